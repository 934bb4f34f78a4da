from pathlib import Path

import pytest

from ingest.uploads import Uploads, safe_name


def save_upload(folder, name, data):
    return Uploads(folder, folder.parent / "uploads.sqlite3").save(name, data)


@pytest.mark.parametrize(
    "name, want",
    [
        ("../../etc/x.md", "x.md"),
        ("..\\..\\Windows\\evil.txt", "evil.txt"),
        ("/etc/passwd", "passwd"),
        ("..", "upload"),
        (".bashrc", "bashrc"),
        ("", "upload"),
        ("a\x00b\nc.pdf", "abc.pdf"),
        ("Résumé 2024 (final).pdf", "Résumé 2024 (final).pdf"),
        ("what?*<>|.md", "what_.md"),
    ],
)
def test_safe_name(name, want):
    assert safe_name(name) == want


def test_long_names_keep_their_extension():
    name = safe_name("x" * 500 + ".markdown")
    assert name.endswith(".markdown") and len(name.encode()) <= 200


def test_a_hostile_name_cannot_leave_the_uploads_folder(tmp_path):
    folder = tmp_path / "home" / "uploads"
    saved = save_upload(folder, "../../etc/x.md", b"# hello\n")
    assert saved.path.parent == folder and saved.path.name == "x.md"
    assert not (tmp_path / "etc").exists() and not saved.duplicate
    assert saved.path.read_bytes() == b"# hello\n"


def test_same_bytes_are_stored_once_whatever_the_name(tmp_path):
    first = save_upload(tmp_path, "notes.md", b"same text\n")
    again = save_upload(tmp_path, "copy of notes.md", b"same text\n")
    assert again.duplicate and again.path == first.path
    assert [p.name for p in tmp_path.iterdir()] == ["notes.md"]


def test_a_different_file_with_a_taken_name_gets_a_new_one(tmp_path):
    a = save_upload(tmp_path, "notes.md", b"one\n")
    b = save_upload(tmp_path, "notes.md", b"two\n")
    c = save_upload(tmp_path, "notes.md", b"three\n")
    assert (a.path.name, b.path.name, c.path.name) == ("notes.md", "notes (2).md", "notes (3).md")
    assert b.path.read_bytes() == b"two\n" and not list(Path(tmp_path).glob(".upload-*"))
