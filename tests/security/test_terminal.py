"""Issue 11, point 4: text from a document never reaches the terminal as control sequences
(OSC 52 writes the clipboard, OSC 0 the window title, CSI rewrites the screen)."""

from __future__ import annotations

from tests.helpers import write
from tests.unit.test_cli import env, run  # noqa: F401, F811  (env is a fixture)


def test_terminal_escapes_in_documents_never_reach_the_terminal(env, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setenv("QUIRE_LLM", "fake")
    osc52 = "\x1b]52;c;ZXZpbA==\x07"  # would write the clipboard
    write(env / "evil.md", f"# Evil\n\nApples {osc52} are red\x1b[2J and \x1b]0;title\x07 sweet.\n")
    run(capsys, "ingest", str(env))
    for argv in (("search", "apples red sweet"), ("ask", "apples red sweet", "--mode", "quotes")):
        code, out, err = run(capsys, *argv)
        assert code == 0 and "Apples" in out
        assert "\x1b" not in out + err and "\x07" not in out + err
