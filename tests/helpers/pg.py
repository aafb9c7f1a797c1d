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
