"""Prompt templates live in prompts/ and render strictly."""

from __future__ import annotations

import pytest

from rag.answer.prompts import render, template
from rag.errors import QuireError


@pytest.mark.parametrize("name", ["system", "answer", "excerpt", "refusal", "rewrite"])
def test_every_template_exists(name):
    assert template(name).strip()


def test_render_fills_variables():
    text = render("answer", excerpts="<excerpt n=1>x</excerpt>", question="Why?", context="")
    assert "Question: Why?" in text and "<excerpt n=1>x</excerpt>" in text


def test_missing_variable_fails():
    with pytest.raises(QuireError, match="needs question"):
        render("answer", excerpts="x", context="")


def test_unknown_variable_fails():
    with pytest.raises(QuireError, match="has no colour"):
        render("refusal", question="q", colour="red")


def test_unknown_template_fails():
    with pytest.raises(QuireError, match="no prompt template"):
        template("nope")
