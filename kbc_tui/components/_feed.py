"""Load bytes into storage while they are still arriving: a producer thread writes them into a named pipe
that DuckDB's ``read_csv`` reads at the same time (a download or a database's COPY is parsed as it comes,
not saved to a file first; nothing of it is kept on disk).

    with Feed(folder) as feed:
        feed.start(produce)          # produce(feed) writes to feed.open(), calls feed.check(): in a thread
        feed.load(storage.write_select, table, sql_reading(feed.path), inspect=feed.inspect())

How the producer ended is recorded before the pipe closes, and ``inspect`` (run by ``write_select`` before
the swap) waits for it: a producer that stopped early (its close looks like the end of the text to
DuckDB) fails the load, and its error wins. A failure of DuckDB (bad CSV, cancel) closes the pipe, so the
producer's next write fails; ``close`` also releases a producer still waiting for its reader or writing
(it stops at its next ``check``). Where
named pipes do not exist (Windows) ``start`` writes a scratch file first and DuckDB reads it afterwards.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Any, BinaryIO, Callable, TypeVar

T = TypeVar("T")
PIPES = hasattr(os, "mkfifo")
#: DuckDB's CSV buffer for reading a feed (its default is 32 MB, several in use at once): twice its longest line
CSV_BUFFER = 4 << 20


class Feed:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"feed-{uuid.uuid4().hex}.csv"
        if PIPES:
            os.mkfifo(self.path, 0o600)  # in the state folder: owner-only like every file there
        self.error: BaseException | None = None
        self._out: BinaryIO | None = None
        self._ended = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the producer's side ----------------------------------------------------------------------
    def open(self) -> BinaryIO:
        """The file to write to (the producer writes to it directly: its loop is the hot path). The first call
        waits, with a pipe, until DuckDB opens the other end. Call ``check()`` every few MB."""
        if self._out is None:
            self._out = open(self.path, "wb", buffering=1 << 20)
        return self._out

    def check(self) -> None:
        """Raise if the load has stopped (DuckDB failed or was cancelled): the producer should end."""
        if self._stop.is_set():
            raise BrokenPipeError("the load has stopped")

    def start(self, produce: Callable[["Feed"], None]) -> None:
        """Run ``produce(self)`` in a thread (with a pipe) or to its end now (without one)."""
        if not PIPES:
            self._produce(produce)
            return
        self._thread = threading.Thread(target=self._produce, args=(produce,), name="kbc-feed", daemon=True)
        self._thread.start()

    def _produce(self, produce: Callable[["Feed"], None]) -> None:
        try:
            produce(self)
            if self._out is not None:
                self._out.flush()
        except BrokenPipeError:
            pass  # the reader stopped first: it says why
        except BaseException as exc:  # handed to the reader's side by ``finish``
            self.error = exc
        self._ended.set()
        try:
            if self._out is None and not self._stop.is_set():
                self._out = open(self.path, "wb")  # a reader waiting in open gets an empty text
            if self._out is not None:
                self._out.close()
        except OSError:
            pass

    # -- the reader's side ------------------------------------------------------------------------
    def finish(self) -> None:
        """Wait until the producer has ended; raise its error if it failed."""
        self._ended.wait()
        if self.error is not None:
            raise self.error

    def inspect(self, then: Callable[[Any, str], None] | None = None) -> Callable[[Any, str], None]:
        """For ``write_select``: the staged rows count only if the producer finished well."""
        def check(con: Any, stage: str) -> None:
            self.finish()
            if then is not None:
                then(con, stage)

        return check

    def load(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run the reader's side, ``fn(*args, **kwargs)``; if it fails and the producer failed too, the producer's
        error is raised (it is the cause: DuckDB only saw the text end early)."""
        try:
            return fn(*args, **kwargs)
        except BaseException:
            self.close()
            if self.error is not None:
                raise self.error from None
            raise

    def close(self) -> None:
        """Stop a producer still writing or waiting for its reader, wait for its thread, remove the pipe."""
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            fd = None
            try:  # be the reader it may wait for, and drain what it writes until it sees the stop
                fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            except OSError:
                pass
            try:
                while self._thread.is_alive():
                    if fd is not None:
                        try:
                            os.read(fd, 1 << 20)
                        except BlockingIOError:
                            pass
                    self._thread.join(0.01)
            finally:
                if fd is not None:
                    os.close(fd)
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> "Feed":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
