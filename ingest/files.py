"""Find the files to ingest under the paths a user names, and open them, safely.

Folders are walked recursively in name order. Hidden files and folders (".git", ".obsidian"),
tool folders such as `node_modules` or `__pycache__`, and editors' temp, swap and lock files
(`~$report.docx`, `notes.md~`) are passed over without a report line.

Links. A path the user names (on the command line, in the app) is taken as asked: a named link
is resolved, and what it leads to is indexed under its own real path. A link met inside a folder
is another matter, since anyone who can put a file in the folder can put a link there:
- a link whose target is inside the folder names a file the walk finds anyway: passed over, so
  nothing is indexed twice;
- a link whose target leaves the folder is not followed; the report counts these links in one
  line. With `follow_links` (QUIRE_FOLLOW_LINKS=on, `quire ingest --follow-links`) it is
  followed, and what is found through it is indexed under the link's own path inside the folder:
  the path the user sees, and the one a sync of the folder checks, so removing the link removes
  the file from the index. Even then a target whose path passes through a hidden or tool folder
  (~/.ssh, ~/.config, node_modules) is passed over, and counted; a link loop is reported.

Opening. A file is opened without following a link anywhere on its path (a named link was
resolved, a followed one is resolved again), without blocking, and only if the opened descriptor
is a regular file; at most the size limit is read, whatever the file's size claimed. So a file
swapped after discovery for a FIFO, a device or a link costs only itself.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from dataclasses import dataclass, field

from ingest.load import kind_for
from rag.errors import LoadError
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
# Why a link was not followed (the report counts links by reason, one line each).
LINK_OUTSIDE = "link leading outside the folder"
LINK_HIDDEN = "link to a hidden or tool folder"


def passed_over(name: str) -> bool:
    """Whether a file or folder name is hidden or a tool folder's, never walked into."""
    return name.startswith(".") or name in PASSED_OVER


def temp_file(name: str) -> bool:
    """Whether a file name is an editor's or office suite's temp, swap, backup or lock file."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in TEMP_NAMES)


def inside(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or below it (both absolute and normalised)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def hidden_target(link: str, target: str) -> bool:
    """Whether the real `target` of `link` is reached through a hidden or tool folder that the
    link's own folder is not in (`notes/ssh -> ~/.ssh`; but `/srv/docs` is fine)."""
    base = os.path.commonpath([os.path.dirname(link), target])
    rel = os.path.relpath(target, base)
    return rel != "." and any(passed_over(part) for part in rel.split(os.sep))


def through_link(path: str, folder: str) -> bool:
    """Whether `path`, under `folder`, is reached through a link below `folder`."""
    if not inside(path, folder) or path == folder:
        return False
    current = folder
    for part in os.path.relpath(path, folder).split(os.sep):
        current = os.path.join(current, part)
        if os.path.islink(current):
            return True
    return False


@dataclass
class Discovery:
    """Files to ingest (each under the path it is known by, no duplicates), the problems met on
    the way, and the links that were not followed (`links`, one result each)."""

    files: list[str] = field(default_factory=list)
    results: list[FileResult] = field(default_factory=list)
    links: list[FileResult] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    def add_file(self, path: str, real: str | None = None) -> None:
        """Take the file at `path` (whose real path is `real`) unless it was taken already."""
        real = real or os.path.realpath(path)
        if real in self._seen:
            return
        self._seen.add(real)
        if kind_for(path) is None:
            ext = os.path.splitext(path)[1] or "(no extension)"
            self.results.append(FileResult(path, SKIPPED, f"unsupported file type {ext!r}"))
        else:
            self.files.append(path)

    def problem(self, path: str, reason: str) -> None:
        self.results.append(FileResult(os.path.abspath(path), FAILED, reason))

    def link_skipped(self, path: str, reason: str) -> None:
        self.links.append(FileResult(path, SKIPPED, reason))


def discover(
    paths: list[str], follow_links: bool = False, folder: str | None = None, named: bool = True
) -> Discovery:
    """Every file named in `paths` or found below the folders in it.

    With `named=False` the paths are changes seen inside `folder` (a watcher's), not named by
    the user: each is reached as a walk of the folder would reach it, so a link on the way is
    judged like one met in the walk (without `folder`, or outside it, a path is judged as seen
    in its own parent folder)."""
    walk = _Walk(Discovery(), follow_links)
    root = os.path.abspath(folder) if folder else None
    for p in paths:
        p = os.path.abspath(os.path.expanduser(p))
        if named:
            walk.named(p)
        else:
            walk.reach(p, root if root and inside(p, root) else os.path.dirname(p))
    return walk.found


class _Walk:
    """One discovery: the folders walked so far, and whether links leaving a folder are
    followed."""

    def __init__(self, found: Discovery, follow: bool) -> None:
        self.found, self.follow = found, follow
        self.visited: set[tuple[int, int]] = set()

    def named(self, path: str) -> None:
        """A path the user named: a link there is the user's choice, resolved."""
        try:
            st = os.stat(path)
        except OSError as exc:
            self.found.problem(path, _reason(path, exc))
            return
        real = os.path.realpath(path)
        if stat.S_ISDIR(st.st_mode):
            self.visited.add(_key(st))
            self.walk(real, real, real, {_key(st)})
        elif stat.S_ISREG(st.st_mode):
            self.found.add_file(real, real)
        else:
            self.found.problem(path, "not a regular file")

    def reach(self, path: str, root: str) -> None:
        """A path seen inside the folder `root`, taken as the walk of `root` would take it."""
        current, real = root, os.path.realpath(root)
        parts = [] if path == root else os.path.relpath(path, root).split(os.sep)
        try:
            st = os.stat(root)
        except OSError:
            return  # the folder itself is gone: there is nothing to take
        ancestors, top = {_key(st)}, real
        for i, name in enumerate(parts):
            current = os.path.join(current, name)
            got = self.entry(current, name, real, top, os.path.islink(current))
            if got is None:
                return
            real, st = got
            if i < len(parts) - 1:
                if not stat.S_ISDIR(st.st_mode):
                    return
                ancestors.add(_key(st))
        if stat.S_ISDIR(st.st_mode):
            self.visited.add(_key(st))
            self.walk(current, real, top, ancestors)
        elif parts and stat.S_ISREG(st.st_mode) and not temp_file(parts[-1]):
            self.found.add_file(current, real)

    def walk(self, folder: str, real: str, root: str, ancestors: set) -> None:
        """The files below `folder` (whose real path is `real`), inside the folder `root` (a
        real path); `ancestors` are the folders above, against loops."""
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            self.found.problem(folder, _reason(folder, exc))
            return
        for entry in entries:
            got = self.entry(entry.path, entry.name, real, root, entry.is_symlink())
            if got is None:
                continue
            target, st = got
            if stat.S_ISDIR(st.st_mode):
                key = _key(st)
                if key in ancestors:
                    self.found.problem(
                        entry.path, "symlink loop: this folder links back to a folder above it"
                    )
                elif key not in self.visited:
                    self.visited.add(key)
                    self.walk(entry.path, target, root, ancestors | {key})
            elif stat.S_ISREG(st.st_mode) and not temp_file(entry.name):
                self.found.add_file(entry.path, target)

    def entry(
        self, path: str, name: str, real_parent: str, root: str, is_link: bool
    ) -> tuple[str, os.stat_result] | None:
        """The real path and status of a folder entry to take, or None when it is passed over
        (hidden, a link not followed, or a problem, reported)."""
        if passed_over(name):
            return None
        try:
            st = os.stat(path)
        except OSError as exc:
            self.found.problem(path, _reason(path, exc))
            return None
        if not is_link:
            return os.path.join(real_parent, name), st
        target = os.path.realpath(path)
        if inside(target, root):
            return None  # another name for something the walk finds itself (or passes over)
        if not self.follow:
            self.found.link_skipped(path, LINK_OUTSIDE)
            return None
        if hidden_target(path, target):
            self.found.link_skipped(path, LINK_HIDDEN)
            return None
        return target, st


def _key(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


def _reason(path: str, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno == errno.ENOENT:
        return "broken symlink" if os.path.islink(path) else "no such file or folder"
    if exc.errno == errno.EACCES:
        return "permission denied"
    return f"cannot read: {exc.strerror or exc}"


_SAID = {
    LINK_OUTSIDE: (
        "links leading outside the folder",
        "--follow-links or QUIRE_FOLLOW_LINKS=on follows them",
    ),
    LINK_HIDDEN: ("links into hidden or tool folders", "never followed"),
}


def links_summary(links: list[FileResult]) -> list[str]:
    """One line per reason for the links a run did not follow, such as `3 links leading
    outside the folder skipped (...)`."""
    lines = []
    for reason in dict.fromkeys(r.reason for r in links):
        n = sum(r.reason == reason for r in links)
        many, hint = _SAID.get(reason, (reason, ""))
        what = many if n != 1 else reason
        lines.append(f"{n} {what} skipped" + (f" ({hint})" if hint else ""))
    return lines


# --- opening -------------------------------------------------------------------------------

_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
# O_PATH opens a folder without needing read permission (search is enough), like a path walk.
_FOLDER = os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_PATH", os.O_RDONLY)
_FOLDER |= getattr(os, "O_CLOEXEC", 0)


class DocumentFile:
    """A regular file opened by `open_document`: its status, then its bytes (`read`)."""

    def __init__(self, fd: int, st: os.stat_result, limit: int) -> None:
        self.fd, self.stat, self.limit = fd, st, limit

    def read(self) -> bytes:
        """The whole file, or a LoadError once more than the limit has been read (a file that
        grew, or whose size said nothing, such as one under /proc)."""
        parts: list[bytes] = []
        got = 0
        step = min(self.stat.st_size, self.limit) + 1  # usually the whole file in one call
        while got <= self.limit:
            block = os.read(self.fd, min(step, self.limit + 1 - got))
            if not block:
                break
            parts.append(block)
            got += len(block)
            step = 1 << 20
        if got > self.limit:
            raise LoadError(too_big(None, self.limit))
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> DocumentFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def too_big(size: int | None, limit: int) -> str:
    """The reason a file over the size limit (`limit` bytes) is refused."""
    mb = f"{round(limit / 2**20, 3):g} MB limit (QUIRE_MAX_FILE_MB)"
    if size is None:
        return f"file is over the {mb}: it grew while it was read"
    return f"file is {size / 2**20:.1f} MB, over the {mb}"


def open_document(path: str, limit: int, follow_links: bool = False) -> DocumentFile:
    """Open the file `discover` found at `path` for reading at most `limit` bytes.

    No link on the path is followed, unless `follow_links` allows the one discovery followed
    (then the path is resolved first and its real path opened the same way, and a target
    through a hidden folder is refused). Only a regular file is opened, without blocking:
    a FIFO, a device or a link put there since discovery is refused with a reason (LoadError),
    as is a file over the limit; an OSError says the file is gone or unreadable."""
    path = os.path.abspath(path)
    real = os.path.realpath(path) if follow_links else path
    if real != path and hidden_target(path, real):
        raise LoadError(f"not followed: a {LINK_HIDDEN}")
    fd = _open_no_links(real)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise LoadError("not a regular file (it changed since it was found)")
        if st.st_size > limit:
            raise LoadError(too_big(st.st_size, limit))
    except BaseException:
        os.close(fd)
        raise
    return DocumentFile(fd, st, limit)


def _open_no_links(path: str) -> int:
    """A descriptor for the regular file at the absolute `path`, opened one folder at a time so
    that no link anywhere on the way is followed."""
    parts = [p for p in os.path.normpath(path).split(os.sep) if p]
    if not parts:
        raise LoadError("not a regular file")
    folder = os.open(os.sep, _FOLDER)
    try:
        for i, part in enumerate(parts[:-1]):
            try:
                down = os.open(part, _FOLDER, dir_fd=folder)
            except OSError as exc:
                _linked(exc, os.sep + os.path.join(*parts[: i + 1]))
                raise
            os.close(folder)
            folder = down
        name = parts[-1]
        try:
            # Looked at before opening: opening a FIFO or a device has effects of its own.
            st = os.stat(name, dir_fd=folder, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise LoadError(_LINKED)
            if not stat.S_ISREG(st.st_mode):
                raise LoadError("not a regular file (a FIFO, a device or a socket)")
            return os.open(name, _READ, dir_fd=folder)
        except OSError as exc:
            _linked(exc, path)
            raise
    finally:
        os.close(folder)


_LINKED = "a link now, not followed (links are followed only with QUIRE_FOLLOW_LINKS=on)"


def _linked(exc: OSError, path: str) -> None:
    """Raise a clear LoadError if `exc` came from meeting a link where none was expected."""
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK) and os.path.islink(path):
        raise LoadError(_LINKED) from None
