"""Issue 11, points 6 and 7: uploads are atomic and never overwrite each other; Quire deletes
only files it recorded creating."""

from __future__ import annotations

import os
import threading

from ingest.uploads import Uploads
from quire.chat.jobs import Writer
from tests.helpers import write


def uploads_at(home) -> Uploads:
    return Uploads(home / "uploads", home / "uploads.sqlite3")


def test_uploads_racing_for_one_name_never_overwrite_each_other(tmp_path):
    n = 20
    start = threading.Barrier(n, timeout=120)  # a thread that dies fails the test, not hangs it
    saved: list = [None] * n
    errors: list = []

    def upload(i: int) -> None:
        try:
            folder = uploads_at(tmp_path)  # one each, like two browser tabs or two app processes
        except Exception as exc:
            errors.append(exc)
            start.abort()
            raise
        start.wait()
        saved[i] = folder.save("notes.md", f"tab {i} wrote this\n".encode())

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    paths = {s.path for s in saved}
    assert len(paths) == n and not any(s.duplicate for s in saved)
    for i, s in enumerate(saved):
        assert s.path.read_text() == f"tab {i} wrote this\n"


def test_names_are_cut_by_bytes_not_characters(tmp_path):
    name = "会議の議事録" * 20 + ".md"  # 120 characters, 360 bytes of UTF-8
    s = uploads_at(tmp_path).save(name, b"# minutes\n")
    assert s.path.exists() and s.path.suffix == ".md" and len(s.path.name.encode()) <= 255
    again = uploads_at(tmp_path).save(name, b"# other minutes\n")
    assert again.path.exists() and len(again.path.name.encode()) <= 255


def test_a_temp_file_left_by_a_killed_upload_is_not_taken_as_the_file(tmp_path):
    data = b"# the whole note\n"
    left = write(tmp_path / "uploads" / ".upload-killed", data)
    os.utime(left, (0, 0))  # long ago
    s = uploads_at(tmp_path).save("note.md", data)
    assert not s.duplicate and s.path.name == "note.md" and s.path.read_bytes() == data
    assert not left.exists()  # cleaned up


def remove_with_writer(make_engine, uploads: Uploads, path) -> None:
    engine = make_engine()
    writer = Writer(lambda: make_engine(store=engine.store), uploads=uploads)
    try:
        writer.submit("ingest", [str(path)])
        writer.submit("remove", [str(path)])
        assert writer.wait(30)
    finally:
        writer.stop()


def test_remove_keeps_a_users_own_file_in_the_uploads_folder(make_engine, tmp_path):
    uploads = uploads_at(tmp_path)
    mine = write(tmp_path / "uploads" / "synced-here.md", "# Mine\n\nMy own note.\n")
    remove_with_writer(make_engine, uploads, mine)
    assert mine.exists()


def test_remove_keeps_a_file_that_replaced_quires_copy(make_engine, tmp_path):
    uploads = uploads_at(tmp_path)
    s = uploads.save("report.md", b"# Quire's copy\n")
    s.path.unlink()
    write(s.path, "# The user's own report\n")  # same name, another file
    remove_with_writer(make_engine, uploads, s.path)
    assert s.path.exists()


def test_remove_keeps_files_of_a_symlinked_uploads_folder(make_engine, tmp_path):
    real = tmp_path / "Documents"
    mine = write(real / "plan.md", "# Plan\n\nThe user's plan.\n")
    home = tmp_path / "home"
    home.mkdir()
    (home / "uploads").symlink_to(real)
    uploads = uploads_at(home)
    ours = uploads.save("dropped.md", b"# Dropped\n\nDropped in the app.\n").path
    remove_with_writer(make_engine, uploads, mine)
    remove_with_writer(make_engine, uploads, os.path.realpath(ours))
    assert mine.exists() and not os.path.exists(ours)
