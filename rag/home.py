"""QUIRE_HOME is private: the folder is 0700 and what Quire writes in it 0600, since it holds
a person's chats, uploads and the text of their documents. A home someone else owns, or may
write to, is refused: whatever is in it (an index, a search socket) may be theirs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rag.errors import QuireError

PRIVATE_UMASK = 0o077


def private_home(home: Path) -> Path:
    """Create `home` (0700) and check it (`check_home`); a home an earlier version made
    readable to others (0755 with 0644 files) is tightened, folder and contents, once.
    Symlinks are not followed."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_home(home)
    st = home.stat()
    if not st.st_mode & 0o077:
        return home
    os.chmod(home, 0o700)
    for root, dirs, files in os.walk(home):
        for name in dirs + files:
            path = os.path.join(root, name)
            try:
                mode = os.lstat(path).st_mode
                if stat.S_ISDIR(mode):
                    os.chmod(path, 0o700)
                elif stat.S_ISREG(mode):
                    os.chmod(path, mode & 0o700)
            except OSError:
                pass
    return home


def check_home(home: Path) -> None:
    """QuireError unless `home` (if it exists) and what lies directly in it belong to this user
    and no other user may write there. Only the home is checked, not the folders above it: one
    who replaced it (in a shared /tmp, say) could only put a folder of their own in its place."""
    try:
        st = os.stat(home)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise QuireError(f"QUIRE_HOME {home} cannot be opened ({exc.strerror})") from None
    if not stat.S_ISDIR(st.st_mode):
        raise QuireError(f"QUIRE_HOME {home} is not a folder: set QUIRE_HOME to a folder of yours")
    _check(home, st, home, writable=True)
    try:
        with os.scandir(home) as entries:
            inside = [(Path(e.path), e.stat(follow_symlinks=False)) for e in entries]
    except OSError as exc:
        raise QuireError(f"QUIRE_HOME {home} cannot be read ({exc.strerror})") from None
    # What is inside may be group-writable (a library user's umask) as long as no one else
    # can reach it; a link's own mode is always 0777.
    reachable = bool(st.st_mode & 0o011)
    for path, entry in inside:
        _check(path, entry, home, writable=reachable and not stat.S_ISLNK(entry.st_mode))


def _check(path: Path, st: os.stat_result, home: Path, writable: bool) -> None:
    what = "QUIRE_HOME" if path == home else f"{path.name} in QUIRE_HOME"
    if st.st_uid != os.geteuid():
        raise QuireError(
            f"{what} ({path}) belongs to {_user(st.st_uid)}, not to you "
            f"({_user(os.geteuid())}): Quire will not use a library another user can read and "
            "change. Set QUIRE_HOME to a folder of your own (the default is "
            "~/.local/share/quire), or have the owner give it to you (chown)."
        )
    if writable and st.st_mode & 0o022:
        raise QuireError(
            f"{what} ({path}) may be written by other users (mode "
            f"{stat.S_IMODE(st.st_mode):04o}), who could have put files of theirs in it. Look "
            f"at what is in it, then `chmod -R go-w {home}` (Quire tightens it to 0700 itself), "
            "or set QUIRE_HOME to a new folder."
        )


def _user(uid: int) -> str:
    try:
        import pwd

        return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def private_files() -> None:
    """New files and folders of this process are for its user only (for the CLI and the app;
    a library user's own process keeps its umask, and QUIRE_HOME's 0700 still guards it)."""
    os.umask(PRIVATE_UMASK)
