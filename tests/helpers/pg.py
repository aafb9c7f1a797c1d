"""A PostgreSQL database of a test's own on the test service (``pg_url`` in ``tests/conftest.py``).

Use: ``from tests.helpers.pg import pg_database  # noqa: F401`` in a test module, then a test (or fixture) takes
``pg_database``: the ``postgresql+psycopg://postgres@127.0.0.1:5432/<unique name>`` URL of a new, empty database,
dropped (``WITH (FORCE)``: connections a test left open go too) when the test ends.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest


def admin_conninfo(sa_url: str, dbname: str | None = None) -> str:
    """A psycopg conninfo for a SQLAlchemy-style URL (the ``+driver`` dropped), optionally of another database."""
    parts = urlsplit(sa_url)
    path = f"/{dbname}" if dbname is not None else parts.path
    return urlunsplit(("postgresql", parts.netloc, path, parts.query, ""))


def with_database(sa_url: str, dbname: str) -> str:
    """The same SQLAlchemy URL naming another database."""
    parts = urlsplit(sa_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{dbname}", parts.query, ""))


def create_database(pg_url: str, prefix: str = "kbc_test") -> str:
    """Create a uniquely named database on the service; returns its name."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_conninfo(pg_url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0')
    return name


def drop_database(pg_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_conninfo(pg_url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database(pg_url: str):
    """The URL of a new empty database of this test's own (dropped afterwards)."""
    name = create_database(pg_url)
    try:
        yield with_database(pg_url, name)
    finally:
        drop_database(pg_url, name)


# -- processes racing on one state (run in spawned processes: top-level functions) ------------------------------

def claim_loop(url: str, name: str, start, results) -> None:
    """Claim waiting jobs until none is left; for each claimed job, check that it is the only processing one of
    its orchestration, hold it a moment, finish it. Puts ``(name, [(job id, orchestration, held from, held until,
    processing of it seen)], error)`` on ``results``."""
    import os
    import random
    import time

    from kbc_tui.model.job import JobStatus
    from kbc_tui.store.pg_state import PgJobState

    claimed, error = [], None
    try:
        state = PgJobState(url)
        start.wait(30)
        idle = 0
        while idle < 3:
            waiting = state.waiting_jobs()
            random.shuffle(waiting)
            got = False
            for job in waiting:
                if state.claim_job(job.id, os.getpid(), name):
                    got = True
                    t0 = time.monotonic()
                    seen = [j.id for j in state.list_jobs(job.orchestration, statuses=[JobStatus.PROCESSING])]
                    time.sleep(random.uniform(0.001, 0.01))
                    t1 = time.monotonic()
                    state.update_job(job.id, status=JobStatus.SUCCESS, message=name)
                    claimed.append((job.id, job.orchestration, t0, t1, seen))
                    break
            idle = 0 if got or waiting else idle + 1
            if not got:
                time.sleep(0.005)
        state.close()
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        error = f"{type(exc).__name__}: {exc}"
    results.put((name, claimed, error))


def fire_once(url: str, orchestration: str, moment_ts: float, start, results) -> None:
    """Record one fire (after every racer is ready); puts ``(recorded, busy job, job id, error)``."""
    from datetime import datetime, timezone

    from kbc_tui.store.pg_state import PgJobState

    try:
        state = PgJobState(url)
        moment = datetime.fromtimestamp(moment_ts, timezone.utc)
        start.wait(30)
        record = state.record_fire(orchestration, moment, moment)
        state.close()
        results.put((record.recorded, record.busy_job, record.job.id if record.job else None, None))
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        results.put((None, None, None, f"{type(exc).__name__}: {exc}"))


def open_state(url: str, start, results) -> None:
    """Open the state (making or migrating its schema) once every racer is ready; puts the error or None."""
    from kbc_tui.store.pg_state import PgJobState

    try:
        start.wait(30)
        state = PgJobState(url)
        state.close()
        results.put(None)
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        results.put(f"{type(exc).__name__}: {exc}")


# -- a stand-in server that only answers the login -------------------------------------------------------------

class FakeLoginServer:
    """A TCP server on 127.0.0.1 speaking just enough of PostgreSQL's protocol to refuse a login: ``"password"``
    asks for a clear-text password and rejects it (28P01, as a real server does with a wrong one; a client that has
    none gives up itself), ``"silent"`` accepts and never answers. ``passwords`` collects what clients sent.

    ``with FakeLoginServer("password") as server: ... server.port``."""

    def __init__(self, mode: str):
        import socket
        import threading

        self.mode = mode
        self.passwords: list[str] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self._open: list = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import threading

        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._open.append(conn)
            threading.Thread(target=self._login, args=(conn,), daemon=True).start()

    def _login(self, conn) -> None:
        import struct

        def read(n: int) -> bytes:
            data = b""
            while len(data) < n:
                chunk = conn.recv(n - len(data))
                if not chunk:
                    raise ConnectionError
                data += chunk
            return data

        try:
            while True:
                length, code = struct.unpack("!ii", read(8))
                if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest: not here
                    conn.sendall(b"N")
                    continue
                read(length - 8)  # the startup packet's parameters
                break
            if self.mode == "silent":
                return  # the connection stays open, unanswered
            conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
            kind = read(1)
            if kind == b"p":
                (length,) = struct.unpack("!i", read(4))
                self.passwords.append(read(length - 4).rstrip(b"\0").decode())
            fields = b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \"kbc\"\0\0"
            conn.sendall(b"E" + struct.pack("!i", 4 + len(fields)) + fields)
        except (ConnectionError, OSError):
            pass

    def __enter__(self) -> "FakeLoginServer":
        return self

    def __exit__(self, *exc) -> None:
        self._sock.close()
        for conn in self._open:
            try:
                conn.close()
            except OSError:
                pass
