"""The ingest pipeline with fakes: incremental runs, sync, remove, reindex, bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest import prepare
from rag.errors import IndexMismatchError, QuireError
from rag.retrieval.embed import HashEmbedder
from rag.retrieval.store import MemoryStore
from tests.helpers import bump_mtime, write
from tests.pdfs import make_encrypted_pdf, make_image_only_pdf, make_pdf


class CountingEmbedder(HashEmbedder):
    """Records every text it embeds; fails on texts containing `poison`."""

    def __init__(self, poison: str | None = None, dim: int = 64):
        super().__init__(dim=dim)
        self.seen: list[str] = []
        self.poison = poison

    def embed(self, texts):
        if self.poison and any(self.poison in t for t in texts):
            raise RuntimeError("embedder exploded")
        self.seen.extend(texts)
        return super().embed(texts)


def notes(root: Path, n: int = 5) -> Path:
    for i in range(n):
        write(root / f"note{i}.md", f"# Note {i}\n\nThis is note number {i} about subject {i}.\n")
    write(root / "sub" / "deep.md", "# Deep\n\nA note in a sub folder.\n")
    return root


def statuses(report) -> dict[str, str]:
    return {Path(f.path).name: f.status for f in report.files}


def test_first_ingest_adds_then_second_is_unchanged(tmp_path, make_engine):
    folder = notes(tmp_path / "notes")
    emb = CountingEmbedder()
    engine = make_engine(embedder=emb)
    first = engine.ingest([str(folder)])
    assert first.counts["added"] == 6 and first.counts["failed"] == 0
    assert engine.store.count() == first.chunks == len(emb.seen)
    emb.seen.clear()
    second = engine.ingest([str(folder)])
    assert second.counts["unchanged"] == 6
    assert emb.seen == [] and second.chunks == 0


def test_touching_a_file_without_changing_it_is_unchanged(tmp_path, make_engine):
    folder = notes(tmp_path / "notes")
    emb = CountingEmbedder()
    engine = make_engine(embedder=emb)
    engine.ingest([str(folder)])
    emb.seen.clear()
    bump_mtime(folder / "note1.md")
    report = engine.ingest([str(folder)])
    assert report.counts["unchanged"] == 6 and emb.seen == []


def test_editing_one_note_reembeds_only_that_note(tmp_path, make_engine):
    folder = notes(tmp_path / "notes")
    emb = CountingEmbedder()
    engine = make_engine(embedder=emb)
    engine.ingest([str(folder)])
    others_before = {
        p: engine.store.ids_for_source(str(folder / p)) for p in ("note0.md", "note2.md")
    }
    old_ids = engine.store.ids_for_source(str(folder / "note1.md"))
    emb.seen.clear()
    write(folder / "note1.md", "# Note 1\n\nCompletely rewritten: now about volcanoes.\n")
    bump_mtime(folder / "note1.md")
    report = engine.ingest([str(folder)])
    assert statuses(report)["note1.md"] == "updated"
    assert report.counts["unchanged"] == 5
    assert emb.seen and all("volcanoes" in t or "Note 1" in t for t in emb.seen)
    new_ids = engine.store.ids_for_source(str(folder / "note1.md"))
    assert new_ids and new_ids.isdisjoint(old_ids)
    for p, ids in others_before.items():
        assert engine.store.ids_for_source(str(folder / p)) == ids
    rec = engine.manifest.get(str(folder / "note1.md"))
    assert set(rec.chunk_ids) == new_ids


def test_sync_removes_deleted_files_from_store_and_manifest(tmp_path, make_engine):
    folder = notes(tmp_path / "notes")
    engine = make_engine()
    engine.ingest([str(folder)])
    gone = str(folder / "note3.md")
    assert engine.store.ids_for_source(gone)
    os.remove(gone)
    os.remove(folder / "sub" / "deep.md")
    report = engine.sync(str(folder))
    assert statuses(report)["note3.md"] == "removed"
    assert statuses(report)["deep.md"] == "removed"
    assert report.counts["unchanged"] == 4
    assert engine.store.ids_for_source(gone) == set()
    assert engine.manifest.get(gone) is None
    hits = engine.store.query(engine.embedder.embed(["note number 3 about subject 3"])[0], 10)
    assert all(h.chunk.source != gone for h in hits)


def test_plain_ingest_does_not_remove_deleted_files(tmp_path, make_engine):
    folder = notes(tmp_path / "notes")
    engine = make_engine()
    engine.ingest([str(folder)])
    os.remove(folder / "note3.md")
    engine.ingest([str(folder)])
    assert engine.manifest.get(str(folder / "note3.md")) is not None


def test_sync_of_a_missing_folder_refuses(tmp_path, make_engine):
    engine = make_engine()
    with pytest.raises(QuireError, match="quire remove"):
        engine.sync(str(tmp_path / "nowhere"))


def test_remove_a_file_and_a_folder_but_not_a_sibling_prefix(tmp_path, make_engine):
    notes(tmp_path / "notes")
    notes(tmp_path / "notes2", n=2)
    engine = make_engine()
    engine.ingest([str(tmp_path / "notes"), str(tmp_path / "notes2")])
    one = engine.remove(str(tmp_path / "notes" / "note0.md"))
    assert [f.status for f in one.files] == ["removed"]
    folder = engine.remove(str(tmp_path / "notes"))
    assert folder.counts["removed"] == 5
    left = [d.path for d in engine.documents()]
    assert len(left) == 3 and all(p.startswith(str(tmp_path / "notes2") + os.sep) for p in left)
    assert engine.store.count() == sum(d.chunks for d in engine.documents())
    assert (tmp_path / "notes" / "note1.md").exists(), "remove never touches the user's files"


def test_bad_files_get_reasons_and_never_stop_the_batch(tmp_path, make_engine):
    d = tmp_path / "mixed"
    write(d / "good.md", "# Good\n\nA healthy note.\n")
    write(d / "paper.pdf", make_pdf(["First page.", "Second page about owls."]))
    write(d / "corrupt.pdf", make_pdf(["Will be cut."])[:200])
    write(d / "locked.pdf", make_encrypted_pdf(["Secret."]))
    write(d / "scan.pdf", make_image_only_pdf(2))
    write(d / "empty.md", "")
    write(d / "blank.txt", "  \n\n ")
    write(d / "binary.txt", b"\x00\x01\x02\x03" * 100)
    write(d / "latin1.txt", "Caf\xe9 cr\xe8me br\xfbl\xe9e".encode("cp1252"))
    write(d / "huge.md", "# Big\n\n" + "word " * 300_000)
    write(d / "photo.jpg", b"\xff\xd8\xff")
    os.symlink("selfloop.md", d / "selfloop.md")
    os.symlink(str(d), d / "back")
    engine = make_engine(max_file_mb=1.0)
    report = engine.ingest([str(d)])
    got = {Path(f.path).name: (f.status, f.reason) for f in report.files}
    assert got["good.md"][0] == "added"
    assert got["paper.pdf"][0] == "added"
    assert got["latin1.txt"][0] == "added"
    assert "corrupt PDF" in got["corrupt.pdf"][1]
    assert "encrypted" in got["locked.pdf"][1]
    assert "OCR" in got["scan.pdf"][1]
    assert got["empty.md"][1] == "empty file"
    assert got["blank.txt"][1] == "empty file"
    assert "binary" in got["binary.txt"][1]
    assert "limit" in got["huge.md"][1] and "QUIRE_MAX_FILE_MB" in got["huge.md"][1]
    assert got["photo.jpg"][0] == "failed" and "damaged or unreadable image" in got["photo.jpg"][1]
    assert got["selfloop.md"] == ("failed", "symlink loop")
    assert "back" not in got and report.links == []  # a second name for this very folder
    latin = next(f for f in report.files if f.path.endswith("latin1.txt"))
    assert any("cp1252" in n for n in latin.notes)
    failed = [f for f in report.files if f.status == "failed"]
    assert all(f.reason for f in failed)
    # Failed files have no chunks; good ones do.
    for f in failed:
        assert engine.store.ids_for_source(f.path) == set()
    assert engine.store.ids_for_source(str(d / "paper.pdf"))
    docs = {Path(x.path).name: x for x in engine.documents()}
    assert docs["scan.pdf"].status == "failed" and "OCR" in docs["scan.pdf"].error
    assert docs["paper.pdf"].pages == 2


def test_unreadable_file_is_reported(tmp_path, make_engine, monkeypatch):
    d = tmp_path / "perm"
    write(d / "ok.md", "fine")
    secret = write(d / "secret.md", "hidden")
    real_open = prepare.open_document

    def open_document(path, *args):  # root ignores chmod: simulate what others would get
        if path == str(secret):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args)

    monkeypatch.setattr(prepare, "open_document", open_document)
    report = make_engine().ingest([str(d)])
    got = {Path(f.path).name: (f.status, f.reason) for f in report.files}
    assert got == {"ok.md": ("added", ""), "secret.md": ("failed", "permission denied")}


def test_a_file_that_breaks_the_embedder_is_not_indexed_at_all(tmp_path, make_engine):
    d = tmp_path / "n"
    for i in range(4):
        write(d / f"n{i}.md", f"# N{i}\n\nordinary text {i}\n")
    write(d / "bad.md", "# Bad\n\nthis has POISON in it\n")
    engine = make_engine(embedder=CountingEmbedder(poison="POISON"))
    report = engine.ingest([str(d)])
    got = statuses(report)
    assert got.pop("bad.md") == "failed"
    assert set(got.values()) == {"added"}
    assert engine.store.ids_for_source(str(d / "bad.md")) == set()
    assert engine.manifest.get(str(d / "bad.md")).status == "failed"


def test_a_file_that_became_corrupt_loses_its_old_chunks(tmp_path, make_engine):
    pdf = write(tmp_path / "p.pdf", make_pdf(["Once fine."]))
    engine = make_engine()
    engine.ingest([str(pdf)])
    assert engine.store.ids_for_source(str(pdf))
    write(pdf, b"%PDF-1.4 broken now")
    report = engine.ingest([str(pdf)])
    assert report.files[0].status == "failed"
    assert engine.store.ids_for_source(str(pdf)) == set()


def test_interrupted_commit_is_repaired_by_running_again(tmp_path, make_engine):
    folder = notes(tmp_path / "notes", n=3)
    store = MemoryStore()
    engine = make_engine(store=store)
    engine.ingest([str(folder)])
    write(folder / "note0.md", "# Note 0\n\n" + "new text about owls. " * 30)
    bump_mtime(folder / "note0.md")
    real_put = engine.manifest.put

    def killed(rec):
        raise KeyboardInterrupt  # like a kill between the store write and the manifest

    engine.manifest.put = killed
    with pytest.raises(KeyboardInterrupt):
        engine.ingest([str(folder)])
    engine.manifest.put = real_put
    report = engine.ingest([str(folder)])
    assert statuses(report)["note0.md"] == "updated", [f.reason for f in report.files]
    rec = engine.manifest.get(str(folder / "note0.md"))
    assert store.ids_for_source(str(folder / "note0.md")) == set(rec.chunk_ids)
    assert store.count() == sum(len(r.chunk_ids) for r in engine.manifest.records())


def test_changed_settings_stop_with_a_message_naming_reindex(tmp_path, make_engine):
    folder = notes(tmp_path / "notes", n=2)
    store = MemoryStore()
    make_engine(store=store).ingest([str(folder)])
    changed = make_engine(store=store, chunk_tokens=128)
    with pytest.raises(IndexMismatchError, match="quire reindex"):
        changed.ingest([str(folder)])


def test_a_different_embedder_dimension_is_caught(tmp_path, make_engine):
    folder = notes(tmp_path / "notes", n=2)
    store = MemoryStore()
    make_engine(store=store).ingest([str(folder)])
    write(folder / "new.md", "# New\n\nsomething new\n")
    wider = make_engine(store=store, embedder=HashEmbedder(dim=32))
    with pytest.raises(IndexMismatchError, match="reindex"):
        wider.ingest([str(folder)])


def test_reindex_rebuilds_with_new_settings_and_resumes_if_killed(tmp_path, make_engine):
    folder = notes(tmp_path / "notes", n=6)
    store = MemoryStore()
    make_engine(store=store).ingest([str(folder)])
    emb = CountingEmbedder(poison="number 4")
    engine = make_engine(store=store, embedder=emb, chunk_tokens=32, chunk_overlap=4)
    real_commit = engine.ingestor.writer.commit
    calls = []

    def dies_on_third(p, written):
        calls.append(p.path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_commit(p, written)

    engine.ingestor.writer.commit = dies_on_third
    with pytest.raises(KeyboardInterrupt):
        engine.reindex()
    with pytest.raises(IndexMismatchError, match="did not finish"):
        engine.ingest([str(folder)])
    engine.ingestor.writer.commit = real_commit
    emb.poison = None
    report = engine.reindex()
    assert report.counts["failed"] == 0
    assert report.counts["added"] + report.counts["updated"] == 5  # two were done before the kill
    engine.ingest([str(folder)])  # settings now match: no error
    assert store.count() == sum(len(r.chunk_ids) for r in engine.manifest.records())
    assert engine.manifest.get_meta()["chunker"] == engine.settings.chunker_version


def test_reindex_drops_files_that_are_gone(tmp_path, make_engine):
    folder = notes(tmp_path / "notes", n=3)
    engine = make_engine()
    engine.ingest([str(folder)])
    os.remove(folder / "note2.md")
    report = engine.reindex()
    assert statuses(report)["note2.md"] == "removed"
    assert engine.manifest.get(str(folder / "note2.md")) is None


def test_progress_sees_every_file(tmp_path, make_engine):
    folder = notes(tmp_path / "notes")
    write(folder / "skip.png", b"png")

    class Recorder:
        total = None
        seen: list = []

        def start(self, total):
            self.total = total

        def advance(self, result):
            self.seen.append(result.path)

    rec = Recorder()
    report = make_engine().ingest([str(folder)], rec)
    assert rec.total == len(report.files) == len(rec.seen) == 7


def test_many_small_files_are_embedded_in_shared_batches(tmp_path, make_engine):
    calls = []

    class Batching(HashEmbedder):
        def embed(self, texts):
            calls.append(len(texts))
            return super().embed(texts)

    folder = notes(tmp_path / "notes", n=40)
    make_engine(embedder=Batching()).ingest([str(folder)])
    assert len(calls) == 1 and calls[0] == 41


def linked_notes(tmp_path: Path) -> Path:
    """Notes with a link to a folder outside them (`shared -> ../shared`)."""
    notes = write(tmp_path / "notes" / "own.md", "# Own\n\nA note of my own.\n").parent
    write(tmp_path / "shared" / "ref.md", "# Ref\n\nA shared reference about kites.\n")
    os.symlink(tmp_path / "shared", notes / "shared")
    return notes


def names(engine, root: Path) -> list[str]:
    return sorted(os.path.relpath(d.path, root) for d in engine.documents())


def test_files_found_through_a_followed_link_go_when_links_are_no_longer_followed(
    tmp_path, make_engine
):
    notes = linked_notes(tmp_path)
    following = make_engine(follow_links=True)
    following.ingest([str(notes)])
    assert names(following, notes) == ["own.md", "shared/ref.md"]
    plain = make_engine()
    report = plain.sync(str(notes))
    assert statuses(report) == {"own.md": "unchanged", "ref.md": "removed"}
    assert names(plain, notes) == ["own.md"] and (tmp_path / "shared" / "ref.md").exists()
    assert [os.path.basename(r.path) for r in report.links] == ["shared"]


def test_remove_by_a_links_path_drops_what_was_found_through_it(tmp_path, make_engine):
    notes = linked_notes(tmp_path)
    engine = make_engine(follow_links=True)
    engine.ingest([str(notes)])
    assert statuses(engine.remove(str(notes / "shared"))) == {"ref.md": "removed"}
    assert names(engine, notes) == ["own.md"]


def test_update_judges_links_as_a_walk_of_the_watched_folder_does(tmp_path, make_engine):
    notes = linked_notes(tmp_path)
    os.symlink(tmp_path / "shared" / "ref.md", notes / "ref.md")
    plain = make_engine()
    report = plain.update([str(notes / "ref.md"), str(notes / "shared")], folder=str(notes))
    assert report.files == [] and len(report.links) == 2 and plain.documents() == []
    engine = make_engine(follow_links=True)
    engine.update([str(notes / "shared" / "ref.md")], folder=str(notes))
    assert names(engine, notes) == ["shared/ref.md"]
    os.remove(notes / "shared")
    report = engine.update([str(notes / "shared")], folder=str(notes))
    assert statuses(report) == {"ref.md": "removed"} and engine.documents() == []
