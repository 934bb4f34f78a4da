"""QUIRE_HOME is private: the folder is 0700 and what Quire writes in it 0600, since it holds
a person's chats, uploads and the text of their documents."""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077


def private_home(home: Path) -> Path:
    """Create `home` (0700); a home an earlier version made readable to others (0755 with
    0644 files) is tightened, folder and contents, once. Symlinks are not followed."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = home.stat()
    if st.st_uid != os.getuid() or not st.st_mode & 0o077:
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


def private_files() -> None:
    """New files and folders of this process are for its user only (for the CLI and the app;
    a library user's own process keeps its umask, and QUIRE_HOME's 0700 still guards it)."""
    os.umask(PRIVATE_UMASK)
