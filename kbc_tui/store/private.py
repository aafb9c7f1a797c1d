"""Owner-only folders and files: the state folder ``.kbc/`` holds the extracted data, the job logs and the
secret key, so it is 0700 and the files in it are 0600, whatever the umask.

- Folders we create are made 0700; an existing one we own with looser permissions is tightened when opened,
  with what is in it.
- Files we create are opened with mode 0600 (a umask only removes bits, so the mode holds under any umask).
- Files a library creates: SQLite's database file is created here first, 0600, and SQLite gives its ``-wal``
  and ``-shm`` files the database file's mode; DuckDB cannot open an empty file, so its database is
  tightened right after ``connect`` (its ``.wal`` lives only while a write is in progress and is covered by the
  0700 folder). No umask is changed: it is process-wide and jobs run in threads beside the UI.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def loose_mode(path: Path) -> int | None:
    """The permission bits of ``path`` if other users have any access to it, else None (also when missing)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    return mode if mode & 0o077 else None


def tighten(path: Path, mode: int = FILE_MODE) -> None:
    """Take away the bits of ``path`` outside ``mode`` (if it exists and is ours; never adds any)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    current = stat.S_IMODE(st.st_mode)
    if current & ~mode and st.st_uid == os.getuid():
        os.chmod(path, current & mode)


def private_dir(path: Path, *, tighten_existing: bool = True) -> Path:
    """``path`` as an owner-only folder: missing folders on the way are created 0700; ``path`` itself, if it
    existed with looser permissions, is tightened (unless ``tighten_existing`` is false: a folder the user chose)."""
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another process or thread made it meanwhile
            pass
    if tighten_existing and loose_mode(path) is not None:  # made by an older version, or copied: once
        tighten(path, DIR_MODE)
        for folder, dirs, files in os.walk(path):
            for name, mode in [(d, DIR_MODE) for d in dirs] + [(f, FILE_MODE) for f in files]:
                inner = Path(folder, name)
                if not inner.is_symlink():  # a link's target is not ours to change
                    tighten(inner, mode)
    return path


def private_file(path: Path) -> Path:
    """``path`` exists and is owner-only: created empty with mode 0600 if missing, tightened if ours and looser."""
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT, FILE_MODE))
    tighten(path)
    return path
