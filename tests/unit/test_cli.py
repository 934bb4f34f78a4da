"""The `quire` command line, in process, with the fake embedder and Chroma on disk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from quire.cli import main
from tests.helpers import bump_mtime, write

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("QUIRE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("QUIRE_EMBEDDER", "fake")
    monkeypatch.delenv("QUIRE_CHUNK_TOKENS", raising=False)
    folder = tmp_path / "notes"
    write(folder / "a.md", "# A\n\nApples and pears.\n")
    write(folder / "b.txt", "Bananas are yellow.\n")
    write(folder / "code.py", "def grow(seed):\n    return seed * 2\n")
    return folder


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_json_report_then_unchanged(env, capsys):
    code, out, _ = run(capsys, "ingest", str(env), "--json")
    report = json.loads(out)
    assert code == 0
    assert report["counts"]["added"] == 3 and report["chunks"] >= 3
    assert {"seconds", "chunks_per_second", "files"} <= set(report)
    code, out, _ = run(capsys, "ingest", str(env), "--json")
    assert json.loads(out)["counts"]["unchanged"] == 3


def test_human_summary_names_failures(env, capsys):
    write(env / "broken.pdf", b"%PDF-1.7 not really")
    write(env / "drawing.dwg", b"AC1032")
    code, out, _ = run(capsys, "ingest", str(env))
    assert code == 1  # finished, but a file failed
    assert "3 added" in out and "1 failed" in out and "1 skipped" in out
    assert "broken.pdf: corrupt PDF" in out
    assert "chunks/s" in out


def test_docs_sync_remove(env, capsys):
    run(capsys, "ingest", str(env))
    code, out, _ = run(capsys, "docs", "--json")
    docs = json.loads(out)
    assert code == 0 and {Path(d["path"]).name for d in docs} == {"a.md", "b.txt", "code.py"}
    assert all(d["status"] == "indexed" and d["chunks"] >= 1 for d in docs)
    (env / "b.txt").unlink()
    write(env / "a.md", "# A\n\nApples only now.\n")
    bump_mtime(env / "a.md")
    code, out, _ = run(capsys, "sync", str(env), "--json")
    counts = json.loads(out)["counts"]
    assert (counts["updated"], counts["removed"], counts["unchanged"]) == (1, 1, 1)
    code, out, _ = run(capsys, "remove", str(env / "code.py"))
    assert code == 0 and "1 removed" in out
    code, out, _ = run(capsys, "docs")
    assert "a.md" in out and "code.py" not in out and "1 documents: 1 indexed" in out


def test_links_out_of_the_folder_one_summary_line_and_follow_links(env, capsys):
    for i in range(3):
        write(env.parent / "elsewhere" / f"e{i}.md", f"# E{i}\n\nElsewhere {i}.\n")
        (env / f"link{i}.md").symlink_to(env.parent / "elsewhere" / f"e{i}.md")
    code, out, _ = run(capsys, "ingest", str(env))
    assert code == 0 and "3 added" in out
    assert out.count("3 links leading outside the folder skipped") == 1 and "link0" not in out
    code, out, _ = run(capsys, "sync", str(env), "--follow-links", "--json")
    report = json.loads(out)
    assert report["counts"]["added"] == 3 and report["links_skipped"] == []
    assert {Path(f["path"]).name for f in report["files"]} >= {"link0.md", "link2.md"}


def test_remove_of_something_not_indexed(env, capsys):
    code, out, _ = run(capsys, "remove", str(env / "nothing.md"))
    assert code == 0 and "nothing in the index" in out


def test_mismatch_exits_2_naming_reindex_and_reindex_fixes_it(env, capsys, monkeypatch):
    run(capsys, "ingest", str(env))
    monkeypatch.setenv("QUIRE_CHUNK_TOKENS", "100")
    code, out, err = run(capsys, "ingest", str(env))
    assert code == 2 and "quire reindex" in err and "Traceback" not in err
    code, out, _ = run(capsys, "reindex", "--json")
    assert code == 0 and json.loads(out)["counts"]["updated"] == 3
    code, out, _ = run(capsys, "ingest", str(env), "--json")
    assert code == 0 and json.loads(out)["counts"]["unchanged"] == 3


def test_bad_setting_is_a_message_not_a_traceback(env, capsys, monkeypatch):
    monkeypatch.setenv("QUIRE_EMBED_BATCH", "many")
    code, _, err = run(capsys, "docs")
    assert code == 2 and "QUIRE_EMBED_BATCH" in err


def test_watch_add_syncs_now_list_shows_it_remove_keeps_documents(env, capsys):
    code, out, _ = run(capsys, "watch", "add", str(env))
    assert code == 0 and "Watching" in out and "3 added" in out
    code, out, _ = run(capsys, "watch", "list", "--json")
    listed = json.loads(out)
    assert listed["watcher"] is None
    assert [f["path"] for f in listed["folders"]] == [str(env.resolve())]
    assert listed["folders"][0]["description"].startswith("not watched now; last synced")
    write(env / "c.md", "# C\n\nCherries.\n")
    code, out, _ = run(capsys, "sync", "--json")  # no folder: every watched one
    assert code == 0 and json.loads(out)["counts"]["added"] == 1
    code, out, _ = run(capsys, "watch", "remove", str(env))
    assert code == 0 and "documents stay" in out
    assert "4 documents" in run(capsys, "docs")[1]
    assert run(capsys, "watch", "list")[1].startswith("No watched folders")
    code, _, err = run(capsys, "sync")
    assert code == 2 and "none watched" in err


def test_watch_mistakes_are_messages(env, capsys):
    assert run(capsys, "watch", "add", str(env / "nowhere"))[0] == 2
    assert "needs a FOLDER" in run(capsys, "watch", "add")[2]
    assert "not watched" in run(capsys, "watch", "remove", str(env))[2]
    with pytest.raises(SystemExit) as exit:  # `quire watch FOLDER`: argparse's usage line
        main(["watch", str(env)])
    assert exit.value.code == 2 and "choose from 'add', 'remove', 'list'" in capsys.readouterr().err


def test_sync_missing_folder(env, capsys):
    code, _, err = run(capsys, "sync", str(env / "gone"))
    assert code == 2 and "does not exist" in err


def test_help_is_fast_and_imports_no_heavy_library():
    probe = (
        "import sys, quire.cli; quire.cli.parser(); "
        "heavy = [m for m in ('torch', 'chromadb', 'sentence_transformers', 'llama_cpp', "
        "'streamlit') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stderr


def test_console_script_runs():
    quire = Path(sys.executable).parent / "quire"
    out = subprocess.run([str(quire), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "ingest" in out.stdout and "reindex" in out.stdout


def test_library_code_never_imports_streamlit():
    for folder in ("rag", "ingest"):
        for py in (ROOT / folder).rglob("*.py"):
            text = py.read_text()
            assert "import streamlit" not in text and "from streamlit" not in text, py


def test_search_json_and_text(env, capsys):
    run(capsys, "ingest", str(env))
    code, out, _ = run(capsys, "search", "bananas yellow", "-k", "2", "--json")
    hits = json.loads(out)
    assert code == 0 and hits[0]["source"].endswith("b.txt")
    assert {"score", "page", "heading", "start", "end", "text", "dense", "keyword"} <= set(hits[0])
    code, out, _ = run(capsys, "search", "grow seed", "--type", "py")
    assert code == 0 and "code.py" in out and "lines 1-2" in out and "b.txt" not in out
    code, out, _ = run(capsys, "search", "zzzz-not-there", "--mode", "keyword")
    assert "No matches." in out


def test_search_docs_ranks_files(env, capsys):
    run(capsys, "ingest", str(env))
    code, out, _ = run(capsys, "search", "bananas yellow", "--docs", "--json")
    docs = json.loads(out)
    assert code == 0 and docs[0]["source"].endswith("b.txt")
    assert docs[0]["hits"][0]["text"].startswith("Bananas") and "score" in docs[0]
    assert len({d["source"] for d in docs}) == len(docs)
    code, out, _ = run(capsys, "search", "grow seed", "--docs", "-k", "1")
    assert code == 0 and " 1. " in out and "code.py" in out and "lines 1-2" in out
    assert "b.txt" not in out


def test_related_cli(env, capsys):
    run(capsys, "ingest", str(env))
    code, out, _ = run(capsys, "related", str(env / "a.md"), "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 2 and all(not r["source"].endswith("a.md") for r in rows)
    code, _, err = run(capsys, "related", str(env / "missing.md"))
    assert code == 2 and "not in the index" in err


def test_ask_json_with_fake_models(env, capsys, monkeypatch):
    monkeypatch.setenv("QUIRE_LLM", "fake")  # answers with the first sentence of excerpt 1
    run(capsys, "ingest", str(env))
    code, out, _ = run(capsys, "ask", "Bananas are yellow.", "--json")
    got = json.loads(out)
    assert code == 0 and {"answer", "citations", "hits", "refused", "mode", "timings"} <= set(got)
    assert {"standalone_question", "chat_id", "mode_reason"} <= set(got)
    assert not got["refused"] and got["hits"][0]["source"].endswith("b.txt")
    assert {"retrieval_ms", "first_token_ms", "total_ms"} <= set(got["timings"])
    assert got["citations"] and got["citations"][0]["source"].endswith("b.txt")
    code, out, _ = run(capsys, "ask", "Bananas are yellow.", "--mode", "quotes")
    assert code == 0 and "Bananas are yellow. [1]" in out and "Sources:" in out
    code, out, _ = run(capsys, "ask", "quantum chromodynamics lattice", "--json")
    assert json.loads(out)["refused"] is True


def test_ask_continues_a_chat_and_lists_chats(env, capsys, monkeypatch):
    monkeypatch.setenv("QUIRE_LLM", "fake")
    run(capsys, "ingest", str(env))
    code, out, _ = run(capsys, "ask", "Which fruit is yellow?", "--mode", "quotes", "--json")
    first = json.loads(out)
    assert code == 0 and first["standalone_question"] == "Which fruit is yellow?"
    code, out, _ = run(capsys, "ask", "-c", "and what about pears?", "--mode", "quotes", "--json")
    second = json.loads(out)
    assert second["chat_id"] == first["chat_id"]
    assert second["standalone_question"] == "Which fruit is yellow? and what about pears?"
    code, out, _ = run(capsys, "ask", "Which fruit is yellow?", "--mode", "quotes", "--json")
    assert json.loads(out)["chat_id"] != first["chat_id"]  # no flag: a new chat
    code, out, _ = run(capsys, "chats", "--json")
    rows = json.loads(out)
    assert [r["messages"] for r in rows] == [2, 4]
    code, out, _ = run(capsys, "chats", "--show", str(first["chat_id"]))
    assert "and what about pears?" in out and "searched for:" in out
    code, _, err = run(capsys, "ask", "--chat", "999", "anything")
    assert code == 2 and "no chat 999" in err
    code, out, err = run(capsys, "ask", "--chat", str(first["chat_id"]), "why is it yellow?")
    assert code == 0 and "searched for:" in err and "chat " in err


def test_provenance_in_the_users_words_for_every_format(env, capsys):
    from tests import documents as make

    write(env / "deck.pptx", make.make_pptx())
    write(env / "budget.xlsx", make.make_xlsx())
    write(env / "sea.epub", make.make_epub())
    code, out, _ = run(capsys, "ingest", str(env), "--json")
    assert code == 0 and json.loads(out)["counts"]["failed"] == 0
    code, out, _ = run(capsys, "search", "Phase one ends in March", "-k", "1", "--type", "pptx")
    assert "deck.pptx  (slide 2; Timeline)" in out
    code, out, _ = run(capsys, "search", "Ana Lima Treasurer", "-k", "1", "--json")
    hit = json.loads(out)[0]
    assert hit["location"] == "sheet Staff, rows 4" and hit["unit"] == "sheet"
    assert hit["page_name"] == "Staff"
    code, out, _ = run(capsys, "search", "boats went out at dawn", "-k", "1", "--type", "epub")
    assert "(chapter 2 (The Calm); The Calm > Part one)" in out
    code, _, err = run(capsys, "search", "x", "--type", "dwg")
    assert code == 2 and "unknown file type 'dwg'" in err
