import threading

from ingest.uploads import Uploads
from quire.chat.jobs import DONE, FAILED, Writer
from tests.helpers import write


def test_jobs_run_in_order_and_report_each_file(make_engine, tmp_path):
    engine = make_engine()
    notes = tmp_path / "notes"
    a = write(notes / "a.md", "# A\n\nApples are red.\n")
    b = write(notes / "b.txt", "Bananas are yellow.\n")
    writer = Writer(lambda: make_engine(store=engine.store))
    try:
        first = writer.submit("ingest", [str(a), str(b)])
        second = writer.submit("remove", [str(a)])
        assert writer.wait(30)
        jobs = {j.id: j for j in writer.jobs()}
        assert jobs[first.id].state == DONE and jobs[first.id].total == 2
        assert sorted(r.status for r in jobs[first.id].results) == ["added", "added"]
        assert [r.status for r in jobs[second.id].results] == ["removed"]
        assert [d.path for d in engine.documents()] == [str(b)]  # the reader sees the commits
        assert a.exists()  # removing from the index never deletes the user's own file
    finally:
        writer.stop()


def test_a_failing_job_is_reported_and_the_writer_goes_on(make_engine, tmp_path):
    engine = make_engine()
    writer = Writer(lambda: make_engine(store=engine.store))
    try:
        bad = writer.submit("sync", [str(tmp_path / "not-there")])
        good = writer.submit("ingest", [str(write(tmp_path / "n.md", "Note.\n"))])
        assert writer.wait(30)
        assert writer.job(bad.id).state == FAILED and "not-there" in writer.job(bad.id).error
        assert writer.job(good.id).state == DONE
    finally:
        writer.stop()


def test_pending_lists_files_not_committed_yet(make_engine, tmp_path):
    engine = make_engine()
    gate = threading.Event()

    class Slow:
        def __init__(self, inner):
            self.inner = inner

        def ingest(self, paths, progress):
            gate.wait(30)
            return self.inner.ingest(paths, progress)

        def close(self):
            self.inner.close()

    writer = Writer(lambda: Slow(make_engine(store=engine.store)))
    try:
        path = str(write(tmp_path / "late.md", "Late note.\n"))
        writer.submit("ingest", [path])
        assert writer.pending() == [path] and writer.busy()
        gate.set()
        assert writer.wait(30) and writer.pending() == []
    finally:
        writer.stop()


def test_removing_an_upload_deletes_quires_copy(make_engine, tmp_path):
    engine = make_engine()
    uploads = Uploads(tmp_path / "home" / "uploads", tmp_path / "home" / "uploads.sqlite3")
    up = uploads.save("x.md", b"Uploaded note.\n").path
    writer = Writer(lambda: make_engine(store=engine.store), uploads=uploads)
    try:
        writer.submit("ingest", [str(up)])
        writer.submit("reindex", [str(up)])  # one file again: kept on disk
        assert writer.wait(30) and up.exists()
        assert [r.status for r in writer.jobs()[-1].results] == ["added"]
        writer.submit("remove", [str(up)])
        assert writer.wait(30) and not up.exists() and engine.documents() == []
    finally:
        writer.stop()


def test_only_a_change_to_the_index_tells_other_processes(make_engine, settings, tmp_path):
    from ingest.lock import read_generation

    engine = make_engine()
    note = write(tmp_path / "n.md", "A note.\n")
    engine.ingest([str(note)])
    first = read_generation(settings.home)
    engine.ingest([str(note)])  # unchanged: other processes need not reopen their store
    assert first and read_generation(settings.home) == first
    write(note, "A changed note.\n")
    engine.ingest([str(note)])
    assert read_generation(settings.home) != first
