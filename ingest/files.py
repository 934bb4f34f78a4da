"""Find the files to ingest under the paths a user names, safely.

Folders are walked recursively in name order, following symlinked folders but never in a
loop. Hidden files and folders (".git", ".obsidian"), tool folders such as `node_modules` or
`__pycache__`, and editors' temp, swap and lock files (`~$report.docx`, `notes.md~`) are
passed over without a report line.
"""

from __future__ import annotations

import errno
import fnmatch
import os
from dataclasses import dataclass, field

from ingest.load import kind_for
from rag.types import FAILED, SKIPPED, FileResult

PASSED_OVER = {"__pycache__", "node_modules", "site-packages", "venv"}
# Names of temp, swap, backup and lock files (hidden ones, `.name`, are passed over anyway).
TEMP_NAMES = (
    "~$*",  # Office's owner file beside an open document
    "*~",  # vim's and emacs's backups
    "#*#",  # emacs auto-save
    "4913",  # vim's probe
    "*.swp", "*.swo", "*.swx", "*.tmp", "*.temp", "*.part", "*.crdownload", "*.download",
    "*___jb_tmp___", "*___jb_old___",  # JetBrains' safe write
    "*.kate-swp", "*.bak", "*.orig",
)  # fmt: skip


def passed_over(name: str) -> bool:
    """Whether a file or folder name is hidden or a tool folder's, never walked into."""
    return name.startswith(".") or name in PASSED_OVER


def temp_file(name: str) -> bool:
    """Whether a file name is an editor's or office suite's temp, swap, backup or lock file."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in TEMP_NAMES)


@dataclass
class Discovery:
    """Files to ingest (real absolute paths, no duplicates) and the problems met on the way."""

    files: list[str] = field(default_factory=list)
    results: list[FileResult] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    def add_file(self, path: str) -> None:
        real = os.path.realpath(path)
        if real in self._seen:
            return
        self._seen.add(real)
        if kind_for(real) is None:
            ext = os.path.splitext(real)[1] or "(no extension)"
            self.results.append(FileResult(real, SKIPPED, f"unsupported file type {ext!r}"))
        else:
            self.files.append(real)

    def problem(self, path: str, reason: str) -> None:
        self.results.append(FileResult(os.path.abspath(path), FAILED, reason))


def discover(paths: list[str]) -> Discovery:
    """Every file named in `paths` or found below the folders in it."""
    found = Discovery()
    for p in paths:
        p = os.path.abspath(os.path.expanduser(p))
        try:
            st = os.stat(p)
        except OSError as exc:
            found.problem(p, _reason(p, exc))
            continue
        if os.path.isdir(p):
            _walk(p, found, ancestors={(st.st_dev, st.st_ino)}, visited=set())
        elif os.path.isfile(p):
            found.add_file(p)
        else:
            found.problem(p, "not a regular file")
    return found


def _walk(folder: str, found: Discovery, ancestors: set, visited: set) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        found.problem(folder, _reason(folder, exc))
        return
    for entry in entries:
        if passed_over(entry.name):
            continue
        try:
            st = os.stat(entry.path)
        except OSError as exc:
            found.problem(entry.path, _reason(entry.path, exc))
            continue
        if entry.is_dir():
            key = (st.st_dev, st.st_ino)
            if key in ancestors:
                found.problem(
                    entry.path, "symlink loop: this folder links back to a folder above it"
                )
            elif key not in visited:
                visited.add(key)
                _walk(entry.path, found, ancestors | {key}, visited)
        elif entry.is_file() and not temp_file(entry.name):
            found.add_file(entry.path)


def _reason(path: str, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno == errno.ENOENT:
        return "broken symlink" if os.path.islink(path) else "no such file or folder"
    if exc.errno == errno.EACCES:
        return "permission denied"
    return f"cannot read: {exc.strerror or exc}"
