"""Issue 24, point 3: links inside an indexed folder bring in nothing from outside it.

A link `docs -> ~/.docker` and a link `settings.yml -> ~/.config/gh/hosts.yml` in a folder were
indexed (hidden folders included) and searchable, and stayed so after the links were removed and
the folder synced, since they were recorded under their targets' paths, outside the folder."""

from __future__ import annotations

import os
from pathlib import Path

from ingest.watch.folders import WatchList
from ingest.watch.watcher import Watcher
from quire.cli import summary
from rag.settings import Settings
from tests.helpers import write

TOKEN = "oauth_token: gho_16C7e42F292c6912E7710c838347Ae178B4a"


def home_with_links(tmp_path: Path) -> Path:
    """A home with secrets in hidden folders, a plain folder elsewhere, and a notes folder
    holding links to all three."""
    home = tmp_path / "home"
    notes = write(home / "notes" / "garden.md", "# Garden\n\nThe roses need pruning.\n").parent
    write(home / ".docker" / "config.json", '{"auths": {"ghcr.io": {"auth": "' + TOKEN + '"}}}')
    write(home / ".config" / "gh" / "hosts.yml", f"github.com:\n  {TOKEN}\n  user: me\n")
    write(tmp_path / "shared" / "recipes.md", "# Recipes\n\nThe oauth token cake.\n")
    os.symlink(home / ".docker", notes / "docs")
    os.symlink(home / ".config" / "gh" / "hosts.yml", notes / "settings.yml")
    os.symlink(tmp_path / "shared" / "recipes.md", notes / "recipes.md")
    return notes


def following(make_engine):
    """An engine that follows links leading out of a folder (the code before the fix always
    did, and had no setting for it)."""
    if "follow_links" in Settings.__dataclass_fields__:
        return make_engine(follow_links=True)
    return make_engine()


def leaked(engine) -> list[str]:
    """Indexed paths that hold the token, and search hits that show it."""
    hits = [h.chunk.source for h in engine.search("oauth token", k=20) if "gho_" in h.chunk.text]
    docs = [d.path for d in engine.documents() if ".docker" in d.path or "hosts.yml" in d.path]
    return hits + docs


def test_links_leading_out_of_the_folder_bring_nothing_in_and_say_so_once(tmp_path, make_engine):
    notes = home_with_links(tmp_path)
    engine = make_engine()
    report = engine.ingest([str(notes)])
    assert leaked(engine) == []
    assert [d.path for d in engine.documents()] == [str(notes / "garden.md")]
    text = summary(report)
    line = "3 links leading outside the folder skipped"
    assert text.count(line) == 1, text
    assert "docs" not in text and "settings.yml" not in text  # one line, not one per link
    assert engine.sync(str(notes)).links and leaked(engine) == []


def test_following_links_still_passes_over_hidden_targets(tmp_path, make_engine):
    notes = home_with_links(tmp_path)
    engine = following(make_engine)
    report = engine.ingest([str(notes)])
    assert leaked(engine) == []
    assert sorted(d.path for d in engine.documents()) == [
        str(notes / "garden.md"),
        str(notes / "recipes.md"),  # under the link's path, inside the folder
    ]
    assert "2 links into hidden or tool folders skipped" in summary(report)


def test_a_file_indexed_through_a_link_leaves_the_index_with_the_link(tmp_path, make_engine):
    notes = home_with_links(tmp_path)
    write(tmp_path / "shared" / "pantry.md", "# Pantry\n\nFlour and sugar.\n")
    os.symlink(tmp_path / "shared", notes / "shared")
    engine = following(make_engine)
    engine.ingest([str(notes)])
    assert sorted(d.path for d in engine.documents()) == [
        str(notes / "garden.md"),
        str(notes / "recipes.md"),
        str(notes / "shared" / "pantry.md"),  # shared/recipes.md is recipes.md again
    ]
    assert any("recipes.md" in h.chunk.source for h in engine.search("oauth token cake"))
    os.remove(notes / "recipes.md")
    os.remove(notes / "shared")
    report = engine.sync(str(notes))
    assert sorted(f.status for f in report.files) == ["removed", "removed", "unchanged"]
    assert [d.path for d in engine.documents()] == [str(notes / "garden.md")]
    assert not any("recipes.md" in h.chunk.source for h in engine.search("oauth token cake"))
    assert os.path.exists(tmp_path / "shared" / "recipes.md"), "the target is never touched"


def test_a_watcher_seeing_a_link_appear_brings_nothing_in(tmp_path, make_engine):
    notes = write(tmp_path / "home" / "notes" / "garden.md", "# Garden\n\nRoses.\n").parent
    engine = make_engine()
    watch_list = WatchList(tmp_path / "quire-home")
    watcher = Watcher(engine, watch_list, observer_factory=lambda: None)
    folder = watch_list.add(str(notes))
    watcher._watches[folder] = None  # watched, by rescans only: no observer needed here
    engine.sync(folder)
    home_with_links(tmp_path / "other")  # secrets elsewhere, then links to them appear here
    other = tmp_path / "other" / "home"
    os.symlink(other / ".docker", notes / "docs")
    os.symlink(other / ".config" / "gh" / "hosts.yml", notes / "settings.yml")
    watcher.apply([str(notes / "docs"), str(notes / "settings.yml")])
    assert leaked(engine) == []
    assert [d.path for d in engine.documents()] == [str(notes / "garden.md")]
