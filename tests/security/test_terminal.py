"""Issue 11, point 4 and issue 24, point 4: text a document controls (its words, its file name,
its folder's name, an error quoting it) never reaches the terminal as control sequences: OSC 52
writes the clipboard, OSC 0 the window title, CSI 2J clears the screen, a bidi override
disguises what is printed. Every line `quire` prints goes through one function."""

from __future__ import annotations

import io
import re
import sys

import pytest

from quire.cli import clean_terminal, main
from tests.helpers import write
from tests.unit.test_cli import env, run  # noqa: F401, F811  (env is a fixture)

OSC52 = "\x1b]52;c;ZXZpbA==\x07"  # would write the clipboard
TITLE = "\x1b]0;pwned\x07"  # would set the window title
CLEAR = "\x1b[2J"  # would clear the screen
C1 = "\x9b2J"  # CSI as one C1 character
BIDI = "\u202e"  # right-to-left override: "txt.exe" shows as "exe.txt"
# what may never be printed: C0 controls but tab and newline, DEL, C1, bidi overrides
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _hostile_library(folder) -> None:
    text = f"Apples {OSC52} are red{CLEAR} and {TITLE} sweet {C1}{BIDI}.\n"
    write(folder / f"evil{OSC52}.md", f"# Evil{TITLE}\n\n{text}")
    write(folder / f"title{TITLE}{BIDI}.txt", f"Pears{CLEAR} are green.\n")
    write(folder / f"broken{CLEAR}.pdf", b"%PDF-1.7 not really")  # failed: named in the report
    write(folder / f"drawing{TITLE}.dwg", b"AC1032")  # skipped: named in the report


def _assert_clean(code: int, out: str, err: str) -> None:
    found = UNSAFE.findall(out + err)
    assert not found, (code, out, err)


def test_terminal_escapes_in_documents_never_reach_the_terminal(env, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setenv("QUIRE_LLM", "fake")
    folder = env / f"notes{TITLE}"
    _hostile_library(folder)
    evil = next(folder.glob("evil*.md"))
    runs = [
        ("ingest", str(env)),
        ("ingest", str(env)),  # unchanged: the summary still names the failed file
        ("docs",),
        ("search", "apples red sweet"),
        ("search", "apples red sweet", "--docs"),
        ("ask", "apples red sweet", "--mode", "quotes"),
        ("ask", "zebra quantum lattice", "--mode", "quotes"),  # refused: closest passages
        ("ask", f"apples {TITLE} red", "--mode", "quotes"),  # a question pasted from one
        ("chats",),
        ("chats", "--show", "1"),
        ("related", str(evil)),
        ("related", str(folder / f"missing{OSC52}.md")),  # an error quoting the path
        ("remove", str(folder / f"nothing{CLEAR}.md")),
        ("watch", "add", str(folder)),
        ("watch", "list"),
        ("watch", "remove", str(folder)),
        ("watch", "remove", str(folder)),  # not watched: an error quoting the path
        ("sync", str(folder)),
        ("remove", str(evil)),
    ]
    leaked = []
    for argv in runs:
        code, out, err = run(capsys, *argv)
        if UNSAFE.search(out + err):
            leaked.append((argv[0], clean_terminal(out + err)))
        if argv[0] in ("search", "ask") and "zebra" not in argv[1]:
            assert "Apples" in out or "apples" in out, (argv, out)
    assert not leaked, "\n".join(f"{command}: {shown}" for command, shown in leaked)
    code, out, err = run(capsys, "docs")
    assert "title" in out and "broken" in out  # the names are shown, made harmless


def test_the_json_output_escapes_what_it_carries(env, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setenv("QUIRE_LLM", "fake")
    _hostile_library(env)
    for argv in (("ingest", str(env)), ("docs",), ("search", "apples red sweet"),
                 ("ask", "apples red sweet", "--mode", "quotes")):  # fmt: skip
        code, out, err = run(capsys, *argv, "--json")
        _assert_clean(code, out, err)
        assert "\\u001b" in out  # kept, as a JSON escape


def test_argparse_errors_quoting_an_argument(env, capsys):  # noqa: F811
    with pytest.raises(SystemExit) as exit:
        main(["docs", f"extra{OSC52}"])  # "unrecognized arguments: ..."
    assert exit.value.code == 2
    _assert_clean(2, *capsys.readouterr())


def test_the_progress_bar_shows_names_made_harmless(env, monkeypatch):  # noqa: F811
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    _hostile_library(env)
    bar = Terminal()
    monkeypatch.setattr(sys, "stderr", bar)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    main(["ingest", str(env)])
    shown = bar.getvalue()
    assert "ingest" in shown and "100%" in shown
    # tqdm redraws with carriage returns; nothing else may be a control character
    assert not UNSAFE.findall(shown.replace("\r", "")), shown


def test_clean_terminal_keeps_layout_and_shows_what_it_removes():
    assert clean_terminal("a\tb\nc") == "a\tb\nc"
    assert clean_terminal("line one\r\nline two\rthree") == "line one\nline two\nthree"
    assert clean_terminal("page\x0cbreak") == "page break"
    shown = clean_terminal(f"x{OSC52}y{C1}{BIDI}z\x00")
    assert shown == "x\\x1b]52;c;ZXZpbA==\\x07y\\x9b2J\\u202ez\\x00"
    assert clean_terminal("caf\udce9.md") == "caf\\xe9.md"  # a name that is not UTF-8
    assert clean_terminal("café, 東京, emoji 🍎") == "café, 東京, emoji 🍎"
