"""Watched folders with fakes: settling saves, what is passed over, the shared list, the
watcher's decisions (with a fake observer and library), and `update` on a fake engine."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from ingest.watch.folders import MISSING, SYNCING, WATCHING, WatchList, describe, watch_lock
from ingest.watch.settle import Settle, ignored
from ingest.watch.watcher import Watcher
from rag.errors import QuireError
from rag.types import IngestReport


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_path_is_due_once_quiet_and_only_once():
    clock, sigs = Clock(), {"/n/a.md": (1, 1)}
    s = Settle(quiet=1.0, clock=clock, sign=sigs.get)
    s.touch("/n/a.md")
    clock.now += 0.5
    assert s.due() == []
    s.touch("/n/a.md")  # another save: the quiet spell starts again
    clock.now += 0.9
    assert s.due() == []
    clock.now += 0.2
    assert s.due() == ["/n/a.md"]
    assert s.due() == [] and len(s) == 0


def test_a_file_still_growing_waits_until_it_holds_still():
    clock, sigs = Clock(), {"/n/big.pdf": (10, 1)}
    s = Settle(quiet=1.0, longest=30.0, clock=clock, sign=sigs.get)
    s.touch("/n/big.pdf")
    sigs["/n/big.pdf"] = (20, 2)  # written to without an event reaching us
    clock.now += 1.5
    assert s.due() == []
    clock.now += 1.5
    assert s.due() == ["/n/big.pdf"]


def test_a_file_that_never_stops_changing_is_taken_after_the_longest_wait():
    clock, sigs = Clock(), {"/n/log.md": (0, 0)}
    s = Settle(quiet=1.0, longest=5.0, clock=clock, sign=sigs.get)
    s.touch("/n/log.md")
    for i in range(1, 8):
        sigs["/n/log.md"] = (i, i)
        clock.now += 1.1
        if s.due():
            break
    assert clock.now - 100.0 >= 5.0 and len(s) == 0


def test_drop_under_forgets_a_folder_but_not_its_sibling():
    s = Settle(clock=Clock(), sign=lambda p: None)
    for p in ("/n/a.md", "/n/sub/b.md", "/n2/c.md"):
        s.touch(p)
    s.drop_under("/n")
    assert len(s) == 1


@pytest.mark.parametrize(
    "name",
    ["4913", "a.md~", ".a.md.swp", "a.md.swp", "#a.md#", ".#a.md", "~$report.docx",
     ".~lock.report.odt#", "a.md.tmp", "a.md___jb_tmp___", "paper.pdf.crdownload",
     ".obsidian/workspace.json", "node_modules/x/readme.md", ".git/HEAD"],
)  # fmt: skip
def test_temp_swap_hidden_and_tool_files_are_passed_over(name):
    assert ignored(f"/n/{name}", "/n")


@pytest.mark.parametrize("name", ["a.md", "sub/report.docx", "2024/paper.pdf", "code/x.py"])
def test_real_documents_are_not(name):
    assert not ignored(f"/n/{name}", "/n")


def test_paths_outside_the_folder_are_passed_over():
    assert ignored("/elsewhere/a.md", "/n") and ignored("/n2/a.md", "/n")


def test_watch_list_add_list_remove(tmp_path):
    (tmp_path / "notes").mkdir()
    wl = WatchList(tmp_path / "home")
    path = wl.add(str(tmp_path / "notes"))
    assert path == os.path.realpath(tmp_path / "notes")
    wl.add(str(tmp_path / "notes" / "."))  # the same folder again: still one
    assert wl.paths() == [path]
    other = WatchList(tmp_path / "home")  # another process sees it
    assert [f.path for f in other.folders()] == [path]
    assert wl.remove(str(tmp_path / "notes")) == path
    assert other.paths() == [] and wl.remove(str(tmp_path / "notes")) is None


def test_watch_list_refuses_what_it_should_not_watch(tmp_path):
    home = tmp_path / "data" / "quire"
    home.mkdir(parents=True)
    wl = WatchList(home)
    with pytest.raises(QuireError, match="not a folder"):
        wl.add(str(tmp_path / "nowhere"))
    (home / "uploads").mkdir()
    with pytest.raises(QuireError, match="inside Quire's own data"):
        wl.add(str(home / "uploads"))
    with pytest.raises(QuireError, match="holds Quire's own data"):
        wl.add(str(tmp_path / "data"))
    hidden_home = tmp_path / "user" / ".local" / "quire"
    hidden_home.mkdir(parents=True)
    assert WatchList(hidden_home).add(str(tmp_path / "user"))  # the way ~ holds ~/.local


def test_states_in_words_and_a_dead_watcher_is_not_alive(tmp_path):
    (tmp_path / "n").mkdir()
    wl = WatchList(tmp_path / "home")
    path = wl.add(str(tmp_path / "n"))
    wl.set_state(path, SYNCING, pending=3)
    assert describe(wl.folders()[0], watched=True) == "syncing 3 files"
    assert describe(wl.folders()[0], watched=False).startswith("not watched now")
    wl.set_state(path, WATCHING, synced=True)
    assert describe(wl.folders()[0], watched=True).startswith("watching; last synced 0 s ago")
    wl.set_state(path, MISSING, note="folder not found")
    assert "nothing removed" in describe(wl.folders()[0], watched=True)
    assert wl.watcher() is None
    wl.beat(os.getpid(), "quire watch", time.time())
    assert wl.watcher().pid == os.getpid()
    wl.beat(2**22 + 12345, "quire watch", time.time())  # no such process
    assert wl.watcher() is None
    wl.stopped(2**22 + 12345)


def test_one_watcher_per_library(tmp_path):
    with watch_lock(tmp_path, wait=False) as first:
        assert first
        done = []
        t = threading.Thread(target=lambda: done.append(_try_lock(tmp_path)))
        t.start()
        t.join()
        assert done == [False]
    assert _try_lock(tmp_path)


def _try_lock(home: Path) -> bool:
    with watch_lock(home, wait=False) as got:
        return got


class FakeLibrary:
    def __init__(self, indexed=()) -> None:
        self.calls: list[tuple] = []
        self.indexed = list(indexed)
        self.folders: list[str | None] = []  # the watched folder each update was told
        self.fail = False

    def update(self, paths, progress=None, folder=None) -> IngestReport:
        if self.fail:
            raise RuntimeError("disk on fire")
        self.calls.append(("update", sorted(paths)))
        self.folders.append(folder)
        return IngestReport()

    def sync(self, folder, progress=None) -> IngestReport:
        self.calls.append(("sync", folder))
        return IngestReport()

    def indexed_under(self, folder):
        return [p for p in self.indexed if p.startswith(folder)]


class FakeObserver:
    def __init__(self) -> None:
        self.scheduled: dict[str, object] = {}

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def join(self, timeout=None) -> None: ...

    def schedule(self, handler, path, recursive):
        self.scheduled[path] = handler
        return path

    def unschedule(self, watch):
        del self.scheduled[watch]


def watcher_for(tmp_path, library, **kw):
    wl = WatchList(tmp_path / "home")
    observer = FakeObserver()
    w = Watcher(library, wl, observer_factory=lambda: observer, quiet=0.05, **kw)
    w._observer = observer
    return w, wl, observer


def test_a_new_folder_is_synced_then_watched_and_events_become_updates(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("hi")
    lib = FakeLibrary()
    w, wl, observer = watcher_for(tmp_path, lib)
    folder = wl.add(str(notes))
    w.reconcile()
    assert lib.calls == [("sync", folder)] and folder in observer.scheduled
    assert wl.folders()[0].state == WATCHING and wl.folders()[0].last_synced
    handler = observer.scheduled[folder]
    for kind, path, is_dir in [("modified", "a.md", False), ("created", "4913", False),
                               ("created", ".a.md.swp", False), ("modified", "sub", True),
                               ("opened", "a.md", False), ("created", "b.md", False)]:  # fmt: skip
        handler.dispatch(Event(kind, os.path.join(folder, path), is_dir))
    time.sleep(0.1)
    w.apply(w.settle.due())
    assert lib.calls[-1] == ("update", [f"{folder}/a.md", f"{folder}/b.md"])
    assert lib.folders[-1] == folder  # so a link among the paths is judged against the folder


def test_a_rename_touches_both_names(tmp_path):
    (tmp_path / "n").mkdir()
    w, wl, observer = watcher_for(tmp_path, FakeLibrary())
    folder = wl.add(str(tmp_path / "n"))
    w.reconcile()
    observer.scheduled[folder].dispatch(
        Event("moved", f"{folder}/old.md", False, dest=f"{folder}/new.md")
    )
    time.sleep(0.1)
    assert w.settle.due() == [f"{folder}/new.md", f"{folder}/old.md"]


def test_quire_home_inside_a_watched_folder_is_not_indexed(tmp_path):
    (tmp_path / "n" / "quire").mkdir(parents=True)
    w, wl, observer = watcher_for(tmp_path, FakeLibrary(), private=[tmp_path / "n" / "quire"])
    assert not w.wants(
        str(tmp_path / "n" / "quire" / "uploads" / "a.md"), str(tmp_path / "n"), False
    )
    assert w.wants(str(tmp_path / "n" / "a.md"), str(tmp_path / "n"), False)


def test_a_missing_folder_is_reported_and_nothing_is_removed(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    lib = FakeLibrary()
    w, wl, observer = watcher_for(tmp_path, lib)
    folder = wl.add(str(notes))
    w.reconcile()
    handler = observer.scheduled[folder]
    handler.dispatch(Event("deleted", f"{folder}/a.md", False))
    notes.rename(tmp_path / "away")  # the drive is unplugged
    time.sleep(0.1)
    w.apply(w.settle.due())
    w.reconcile()
    assert lib.calls == [("sync", folder)]  # no update, no sync of the missing folder
    assert wl.folders()[0].state == MISSING and folder not in observer.scheduled
    (tmp_path / "away").rename(notes)  # back again: synced first, then watched
    w.reconcile()
    assert lib.calls == [("sync", folder), ("sync", folder)]
    assert wl.folders()[0].state == WATCHING and folder in observer.scheduled


def test_an_empty_mount_point_with_indexed_files_counts_as_missing(tmp_path):
    mount = tmp_path / "usb"
    mount.mkdir()
    lib = FakeLibrary(indexed=[f"{os.path.realpath(mount)}/paper.pdf"])
    w, wl, _ = watcher_for(tmp_path, lib)
    wl.add(str(mount))
    w.reconcile()
    assert lib.calls == [] and wl.folders()[0].state == MISSING
    assert "unmounted" in wl.folders()[0].note


def test_an_error_is_shown_and_the_watcher_goes_on(tmp_path):
    (tmp_path / "n").mkdir()
    lib = FakeLibrary()
    w, wl, observer = watcher_for(tmp_path, lib)
    folder = wl.add(str(tmp_path / "n"))
    w.reconcile()
    lib.fail = True
    w.apply([f"{folder}/a.md"])
    assert wl.folders()[0].state == "error" and "disk on fire" in wl.folders()[0].note
    lib.fail = False
    w.apply([f"{folder}/a.md"])
    assert wl.folders()[0].state == WATCHING


def test_an_unwatched_folder_is_dropped_and_no_inotify_means_rescans(tmp_path):
    (tmp_path / "n").mkdir()
    lib = FakeLibrary()
    w, wl, observer = watcher_for(tmp_path, lib)
    folder = wl.add(str(tmp_path / "n"))
    w.reconcile()
    wl.remove(folder)
    w.reconcile()
    assert observer.scheduled == {}

    def full(*a, **k):
        raise OSError(28, "inotify watch limit reached")

    observer.schedule = full
    wl.add(folder)
    w.reconcile()
    assert "synced every 600 s" in wl.folders()[0].note


def test_run_beats_syncs_and_stops(tmp_path):
    (tmp_path / "n").mkdir()
    lib = FakeLibrary()
    w, wl, _ = watcher_for(tmp_path, lib)
    wl.add(str(tmp_path / "n"))
    stop = threading.Event()
    t = threading.Thread(target=w.run, args=(stop,))
    t.start()
    deadline = time.monotonic() + 10
    while not lib.calls and time.monotonic() < deadline:
        time.sleep(0.02)
    assert wl.watcher() is not None and wl.watcher().pid == os.getpid()
    stop.set()
    t.join(5)
    assert not t.is_alive() and wl.watcher() is None


class Event:
    def __init__(self, kind, src, is_dir, dest=""):
        self.event_type, self.src_path, self.is_directory, self.dest_path = kind, src, is_dir, dest


def test_update_ingests_files_syncs_folders_and_removes_only_what_is_gone(tmp_path, make_engine):
    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    for name in ("a.md", "b.md", "sub/c.md", "sub/d.md"):
        (notes / name).write_text(f"# {name}\n\nText of {name}.\n")
    engine = make_engine()
    engine.ingest([str(notes)])
    (notes / "a.md").write_text("# a\n\nNew text.\n")
    (notes / "e.md").write_text("# e\n\nA new note.\n")
    os.remove(notes / "b.md")
    (notes / "sub").rename(tmp_path / "elsewhere")  # a folder moved out of the watched one
    report = engine.update([str(notes / p) for p in ("a.md", "e.md", "b.md", "sub")])
    got = {os.path.relpath(f.path, notes): f.status for f in report.files}
    assert got == {"a.md": "updated", "e.md": "added", "b.md": "removed",
                   "sub/c.md": "removed", "sub/d.md": "removed"}  # fmt: skip
    assert sorted(os.path.basename(d.path) for d in engine.documents()) == ["a.md", "e.md"]
    (tmp_path / "elsewhere").rename(notes / "sub")  # and back
    report = engine.update([str(notes / "sub"), str(notes / "a.md")])
    assert sorted(f.status for f in report.files) == ["added", "added", "unchanged"]


def test_the_app_watches_only_when_no_other_process_does(tmp_path, make_engine):
    from ingest.watch.background import BackgroundWatcher

    (tmp_path / "n").mkdir()
    engine = make_engine()
    home = engine.settings.home
    with watch_lock(home, wait=False) as held:  # a `quire watch` elsewhere
        assert held
        app = BackgroundWatcher(home, lambda: engine.watcher(), lambda: serve(engine))
        assert app.start() is False and not app.running
        assert not (home / "search.sock").exists()  # the other process answers searches
    assert app.start() is True and app.running  # it stopped: the app takes over
    assert app.start() is True  # cheap to call again
    assert not _try_lock(home) and (home / "search.sock").exists()
    app.stop()
    assert not app.running and _try_lock(home) and not (home / "search.sock").exists()


def serve(engine):
    from quire.warm import SearchServer

    return SearchServer(engine, engine.settings.home).start()
