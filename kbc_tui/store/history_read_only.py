"""The job history read without writing, for when it cannot be written: a full disk, a read-only project folder
or mount. Listing jobs must not need a write (opening the history normally sets WAL mode, brings its layout up to
date and needs SQLite's ``-shm`` file).

SQLite opens it with ``mode=ro``. A WAL database read that way needs its ``-shm`` file, or to be able to make one
(https://sqlite.org/wal.html, "Read-Only Databases"); when it cannot (a read-only folder, a full disk) and no
``-wal`` file holds changes not yet in the database, it is opened ``immutable=1``: then SQLite takes no locks,
which is safe in a read-only folder (no one can write a WAL database without making its ``-wal`` file) and, on a
full disk, risks at worst a read that fails because another process wrote meanwhile: that is said as "try again",
never as a damaged history. Every write raises the ``StateError`` that kept the history from being opened for
writing (disk full, read-only), as before.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from urllib.parse import quote

from kbc_tui.errors import StateError
from kbc_tui.store.history import MIGRATIONS, SCHEMA_VERSION, JobHistory, _Connection, newer_history_error, state_error


def _uri(path: Path, *, immutable: bool = False) -> str:
    return f"file:{quote(str(path.absolute()))}?mode=ro" + ("&immutable=1" if immutable else "")


def _layout(db) -> dict[str, set[str]]:
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()]
    return {t: {r[1] for r in db.execute(f"PRAGMA table_info('{t}')").fetchall()} for t in tables}


def _current_layout() -> dict[str, set[str]]:
    mem = sqlite3.connect(":memory:")
    try:
        for step in range(1, SCHEMA_VERSION + 1):
            mem.executescript(MIGRATIONS[step])
        return _layout(mem)
    finally:
        mem.close()


class ReadOnlyHistory(JobHistory):
    """The history opened read-only; ``cause``: why it could not be opened for writing (kind full or readonly)."""

    available = False  # the engine keeps trying to open it for writing (to run jobs)

    def __init__(self, path: Path, cause: StateError):
        self.path, self.cause = path, cause
        self._lock = threading.RLock()
        self.immutable = False
        if cause.kind == "full":
            self.why, self._until = "disk full", "space is freed on that disk"
        elif not os.access(path.parent, os.W_OK):
            self.why, self._until = "read-only folder", f"{path.parent} is writable"
        else:
            self.why, self._until = "read-only file", f"{path} is writable"
        if not path.is_file():
            raise cause  # nothing to read
        self._db = self._open()
        try:
            self._check_layout()
        except BaseException:
            self._db.close()
            raise

    @property
    def note(self) -> str:
        """The one line that says so."""
        return (f"the job history {self.path} is read-only ({self.why}): showing what it holds; nothing can be "
                f"recorded until {self._until}")

    def _open(self) -> _Connection:
        db = _Connection(self.path, uri=_uri(self.path), fail=self._words)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchall()
            return db
        except StateError as exc:
            db.close()
            if exc.kind in ("damaged", "busy"):
                raise
        wal = self.path.with_name(self.path.name + "-wal")
        try:
            pending = wal.stat().st_size > 0
        except FileNotFoundError:
            pending = False
        except OSError:
            pending = True
        if pending:
            raise StateError(f"cannot read the job history {self.path} without writing ({self.why}): its latest "
                             f"changes are still in {wal}, which only a write merges; read it again once "
                             f"{self._until}", self.cause.kind)
        self.immutable = True
        db = _Connection(self.path, uri=_uri(self.path, immutable=True), fail=self._words)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchall()
        except BaseException:
            db.close()
            raise
        return db

    def _check_layout(self) -> None:
        """A newer layout is refused; an older one is read as it is if it has every table and column this
        kbc-tui reads, else one line says what to do (the update needs a write)."""
        version = self._version()
        if version > SCHEMA_VERSION:
            raise newer_history_error(self.path, version)
        if version == SCHEMA_VERSION:
            return
        have = _layout(self._db)
        if all(cols <= have.get(table, set()) for table, cols in _current_layout().items()):
            return
        todo = "free space on that disk" if self.cause.kind == "full" else \
            f"make {self.path.parent} writable (check its owner and permissions, or the mount)"
        raise StateError(f"the job history {self.path} is from an older kbc-tui and cannot be read before it is "
                         f"brought up to date, which writes it: {todo}, then run `kbc-tui jobs` once (it updates "
                         "the history and lists the jobs)", "old")

    def _words(self, exc: BaseException) -> StateError:
        err = state_error(exc, self.path)
        if err.kind == "readonly":  # a write: it fails for the reason the history was opened read-only
            return self.cause
        if self.immutable and err.kind == "damaged":  # read without locks while another process wrote
            return StateError(f"the job history {self.path} changed while it was read ({self.why}: it is read "
                              "without locks); try again", "busy")
        return err


def open_for_reading(path: Path) -> JobHistory:
    """The history for a command that only reads: opened as usual, or read-only when it cannot be written
    (a ``ReadOnlyHistory``: its ``note`` says so); other failures raise as usual."""
    try:
        return JobHistory(path)
    except StateError as exc:
        if exc.kind not in ("readonly", "full"):
            raise
        return ReadOnlyHistory(path, exc)
