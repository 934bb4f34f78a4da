"""Source code beyond Python (issue 12): split at functions, classes and methods with
tree-sitter, named, with line ranges; broken and pathological files still indexed."""

from __future__ import annotations

import time

import pytest

from ingest.chunk import chunk_document
from ingest.load import load
from rag.retrieval.embed import HashEmbedder

JS = b"""// Inventory helpers
import fs from 'fs';

/** Keeps items by name. */
class Inventory {
  constructor() { this.items = new Map(); }
  add(name, count) {
    this.items.set(name, (this.items.get(name) || 0) + count);
  }
}

export function total(inv) {
  let n = 0;
  for (const v of inv.items.values()) n += v;
  return n;
}

const double = (x) => x * 2;
"""

GO = b"""package shop

// Store keeps prices.
type Store struct {
\tprices map[string]int
}

func (s *Store) Price(name string) int {
\treturn s.prices[name]
}

func NewStore() *Store { return &Store{prices: map[string]int{}} }
"""

RUST = b"""pub trait Shape {
    fn area(&self) -> f64;
}

pub struct Circle { r: f64 }

impl Shape for Circle {
    fn area(&self) -> f64 { 3.14159 * self.r * self.r }
}
"""


@pytest.mark.parametrize(
    "name, data, want",
    [
        ("inv.js", JS, [
            ("<module>",), ("class Inventory",), ("class Inventory", "method constructor"),
            ("class Inventory", "method add"), ("class Inventory",), ("function total",),
            ("<module>",), ("function double",),
        ]),
        ("shop.go", GO, [
            ("<module>",), ("struct Store",), ("method Store.Price",), ("function NewStore",)
        ]),
        ("shape.rs", RUST, [
            ("trait Shape",), ("trait Shape", "method area"), ("trait Shape",),
            ("struct Circle",), ("impl Shape for Circle",),
            ("impl Shape for Circle", "method area"), ("impl Shape for Circle",),
        ]),
    ],
)  # fmt: skip
def test_definitions_become_named_sections(name, data, want):
    doc = load(name, data)
    got = [s.heading for s in doc.sections]
    assert [h for h in got if h != ("<module>",)] == [h for h in want if h != ("<module>",)]
    if name == "inv.js":
        add = next(s for s in doc.sections if s.heading[-1] == "method add")
        assert doc.pages[0][add.start : add.end].lstrip().startswith("add(name, count)")


def test_a_comment_above_a_definition_goes_with_it_and_lines_are_cited():
    doc = load("inv.js", JS)
    section = next(s for s in doc.sections if s.heading == ("class Inventory",))
    assert doc.pages[0][section.start :].startswith("/** Keeps items by name. */")
    fake = HashEmbedder()
    chunks = chunk_document(doc, "/src/inv.js", 200, 16, fake.count_tokens, 10_000)
    total = next(c for c in chunks if c.heading == ("function total",))
    assert total.location == "lines 12-16" and total.kind == "javascript"


def test_a_file_with_syntax_errors_is_indexed_with_a_note():
    doc = load("broken.ts", b"class A {\n  run() { return 1 }\n\nfunction b( {\n  return 2\n}\n")
    assert doc.notes and "syntax errors" in doc.notes[0]
    assert "return 2" in doc.pages[0]


def test_deeply_nested_code_is_walked_without_recursion():
    deep = b"x = " + b"(" * 100_000 + b"1" + b")" * 100_000 + b";\n"
    began = time.perf_counter()
    doc = load("deep.js", deep)
    assert doc.pages[0].startswith("x = ((") and time.perf_counter() - began < 30


def test_every_language_loads_its_grammar_offline():
    samples = {
        "a.java": b"class A { void f() {} }\n", "a.c": b"int f(void) { return 1; }\n",
        "a.cpp": b"namespace n { class C { void f(); }; }\n", "a.cs": b"class C { void F() {} }\n",
        "a.rb": b"class C\n  def f; end\nend\n", "a.php": b"<?php\nfunction f() { return 1; }\n",
        "a.sh": b"f() { echo hi; }\n", "a.sql": b"CREATE TABLE t (id int);\n",
        "a.tsx": b"function A() { return <div/>; }\n",
    }  # fmt: skip
    for name, data in samples.items():
        doc = load(name, data)
        assert any(s.heading != ("<module>",) for s in doc.sections), name
