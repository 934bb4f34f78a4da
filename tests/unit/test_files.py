"""Finding files: recursion, hidden folders, symlinks and loops."""

from __future__ import annotations

import os

import pytest

from ingest.files import (
    LINK_HIDDEN,
    LINK_OUTSIDE,
    discover,
    hidden_target,
    links_summary,
    open_document,
    through_link,
)
from rag.errors import LoadError
from tests.helpers import deadline, write


def test_walks_recursively_in_order_and_passes_over_hidden(tmp_path):
    write(tmp_path / "b.md", "b")
    write(tmp_path / "a" / "c.py", "c = 1")
    write(tmp_path / ".git" / "config.txt", "x")
    write(tmp_path / ".hidden.md", "x")
    write(tmp_path / "node_modules" / "x.md", "x")
    write(tmp_path / "~$report.docx", b"\x05owner")  # Office's lock file beside an open one
    write(tmp_path / "b.md~", "backup")
    write(tmp_path / "old.bak" / "d.md", "a folder's name is not a temp file's")
    found = discover([str(tmp_path)])
    assert found.files == [
        str(tmp_path / "a" / "c.py"),
        str(tmp_path / "b.md"),
        str(tmp_path / "old.bak" / "d.md"),
    ]
    assert found.results == []


def test_unsupported_types_are_skipped_with_a_reason(tmp_path):
    write(tmp_path / "img.dwg", b"AC1032")
    write(tmp_path / "Makefile", "all:")
    found = discover([str(tmp_path)])
    reasons = {os.path.basename(r.path): (r.status, r.reason) for r in found.results}
    assert reasons == {
        "img.dwg": ("skipped", "unsupported file type '.dwg'"),
        "Makefile": ("skipped", "unsupported file type '(no extension)'"),
    }


def test_links_inside_the_folder_are_not_taken_twice_and_broken_ones_reported(tmp_path):
    real = write(tmp_path / "notes" / "n.md", "n")
    os.symlink(real, tmp_path / "notes" / "alias.md")
    os.symlink(tmp_path / "notes", tmp_path / "notes" / "loop")
    os.symlink(tmp_path / "missing.md", tmp_path / "notes" / "dangling.md")
    os.symlink("self.md", tmp_path / "notes" / "self.md")
    found = discover([str(tmp_path / "notes")])
    assert found.files == [str(real)]  # the alias and the loop name what the walk finds
    reasons = {os.path.basename(r.path): r.reason for r in found.results}
    assert reasons == {"dangling.md": "broken symlink", "self.md": "symlink loop"}
    assert found.links == []  # nothing leads outside


def outside(tmp_path):
    """A folder of notes with links out: to a plain file and folder, and into hidden ones."""
    notes = tmp_path / "home" / "notes"
    write(notes / "mine.md", "mine")
    write(tmp_path / "home" / ".docker" / "config.json", '{"auth": "x"}')
    write(tmp_path / "home" / ".config" / "gh" / "hosts.yml", "oauth_token: x")
    write(tmp_path / "shared" / "ref.md", "ref")
    write(tmp_path / "shared" / "deep" / "d.md", "deep")
    os.symlink(tmp_path / "home" / ".docker", notes / "docs")
    os.symlink(tmp_path / "home" / ".config" / "gh" / "hosts.yml", notes / "settings.yml")
    os.symlink(tmp_path / "shared", notes / "shared")
    os.symlink(tmp_path / "shared" / "ref.md", notes / "ref.md")
    return notes


def test_links_leading_outside_the_folder_are_not_followed_but_counted(tmp_path):
    notes = outside(tmp_path)
    found = discover([str(notes)])
    assert found.files == [str(notes / "mine.md")]
    assert found.results == []
    assert sorted(os.path.basename(r.path) for r in found.links) == [
        "docs", "ref.md", "settings.yml", "shared"
    ]  # fmt: skip
    assert {r.reason for r in found.links} == {LINK_OUTSIDE}
    assert links_summary(found.links) == [
        "4 links leading outside the folder skipped "
        "(--follow-links or QUIRE_FOLLOW_LINKS=on follows them)"
    ]


def test_followed_links_are_indexed_under_their_own_path_never_into_hidden_folders(tmp_path):
    notes = outside(tmp_path)
    os.symlink(tmp_path, notes / "up")  # leads out, to a folder that holds this one
    found = discover([str(notes)], follow_links=True)
    assert found.files == [
        str(notes / "mine.md"),
        str(notes / "ref.md"),
        str(notes / "shared" / "deep" / "d.md"),
    ]  # shared/ref.md is ref.md again; up/ finds shared/ again, and this folder: a loop
    assert {os.path.basename(r.path): r.reason for r in found.links} == {
        "docs": LINK_HIDDEN, "settings.yml": LINK_HIDDEN
    }  # fmt: skip
    assert [r.reason for r in found.results if "loop" in r.reason]
    assert links_summary(found.links) == [
        "2 links into hidden or tool folders skipped (never followed)"
    ]


def test_a_named_link_is_taken_as_asked_under_its_real_path(tmp_path):
    notes = outside(tmp_path)
    found = discover([str(notes / "ref.md"), str(notes / "settings.yml")])
    assert found.files == [
        str(tmp_path / "shared" / "ref.md"),
        str(tmp_path / "home" / ".config" / "gh" / "hosts.yml"),
    ]


def test_paths_a_watcher_saw_are_judged_like_a_walk_of_its_folder(tmp_path):
    notes = outside(tmp_path)
    write(notes / "sub" / "new.md", "new")
    seen = [str(notes / p) for p in ("settings.yml", "docs/config.json", "sub/new.md", "sub")]
    found = discover(seen, folder=str(notes), named=False)
    assert found.files == [str(notes / "sub" / "new.md")]
    assert sorted(os.path.basename(r.path) for r in found.links) == ["docs", "settings.yml"]
    followed = discover([str(notes / "shared" / "ref.md")], True, str(notes), named=False)
    assert followed.files == [str(notes / "shared" / "ref.md")]
    hidden = discover([str(notes / "docs" / "config.json")], True, str(notes), named=False)
    assert hidden.files == [] and [r.reason for r in hidden.links] == [LINK_HIDDEN]


def test_through_link_and_hidden_target(tmp_path):
    notes = outside(tmp_path)
    assert through_link(str(notes / "shared" / "deep" / "d.md"), str(notes))
    assert through_link(str(notes / "ref.md"), str(notes))
    assert not through_link(str(notes / "mine.md"), str(notes))
    assert hidden_target("/home/u/notes/ssh", "/home/u/.ssh")
    assert hidden_target("/home/u/notes/x", "/home/u/work/node_modules/x.md")
    assert not hidden_target("/home/u/notes/x", "/srv/docs")
    assert not hidden_target("/home/.u/notes/x", "/home/.u/work/x.md")  # .u holds both


def test_a_missing_path_is_reported(tmp_path):
    found = discover([str(tmp_path / "nope")])
    assert [(r.status, r.reason) for r in found.results] == [("failed", "no such file or folder")]


def test_same_file_named_twice_is_ingested_once(tmp_path):
    f = write(tmp_path / "a.md", "a")
    assert discover([str(f), str(tmp_path)]).files == [str(f)]


def test_open_document_reads_a_regular_file_within_the_limit(tmp_path):
    f = write(tmp_path / "a.md", "x" * 1000)
    with open_document(str(f), 1000) as doc:
        assert doc.stat.st_size == 1000 and doc.read() == b"x" * 1000
    with pytest.raises(LoadError, match=r"over the 0\.001 MB limit \(QUIRE_MAX_FILE_MB\)"):
        open_document(str(f), 999)


def test_open_document_refuses_what_is_not_a_regular_file_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.md")
    os.symlink(os.devnull, tmp_path / "null.md")
    real = write(tmp_path / "real" / "n.md", "n")
    os.symlink(real, tmp_path / "alias.md")
    os.symlink(tmp_path / "real", tmp_path / "linked")
    with deadline(5), pytest.raises(LoadError, match="not a regular file"):
        open_document(str(tmp_path / "pipe.md"), 100)  # returns at once: nothing opened
    for path in ("null.md", "alias.md", "linked/n.md"):
        with pytest.raises(LoadError, match="a link now, not followed"):
            open_document(str(tmp_path / path), 100)
    with pytest.raises(LoadError, match="not a regular file"):
        open_document(str(tmp_path / "null.md"), 100, follow_links=True)  # /dev/null
    with open_document(str(tmp_path / "linked" / "n.md"), 100, follow_links=True) as doc:
        assert doc.read() == b"n"
    with pytest.raises(FileNotFoundError):
        open_document(str(tmp_path / "gone.md"), 100)


def test_open_document_refuses_a_followed_link_into_a_hidden_folder(tmp_path):
    secret = write(tmp_path / ".ssh" / "id.md", "key")
    (tmp_path / "notes").mkdir()
    os.symlink(secret, tmp_path / "notes" / "id.md")
    with pytest.raises(LoadError, match="hidden"):
        open_document(str(tmp_path / "notes" / "id.md"), 100, follow_links=True)


def test_a_file_that_grows_while_read_stops_at_the_limit(tmp_path):
    f = write(tmp_path / "log.txt", "x" * 10)
    with open_document(str(f), 100) as doc:
        with open(f, "ab") as grow:
            grow.write(b"y" * 10_000)
        with pytest.raises(LoadError, match="grew while it was read"):
            doc.read()
        assert os.lseek(doc.fd, 0, os.SEEK_CUR) == 101  # one byte past the limit, no more
