"""A fresh PostgreSQL database per test for PostgreSQL storage (``[storage] url``), dropped afterwards.

``pg_storage_url`` builds on the session's ``pg_url`` fixture (tests/conftest.py: skips, or fails with
``KBC_REQUIRE_SERVICES=1``, when the service is absent). Compatible with a ``pg_database`` fixture elsewhere:
it only needs the server, and names its databases ``kbc_storage_<hex>``.
"""

from __future__ import annotations

import uuid

import pytest


def admin_conninfo(url: str) -> dict:
    """psycopg connection parameters for the server of a SQLAlchemy URL."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    params = {"host": u.host or "localhost", "port": u.port or 5432, "dbname": u.database or "postgres",
              "connect_timeout": 5}
    if u.username:
        params["user"] = u.username
    if u.password:
        params["password"] = u.password
    return params


def create_database(url: str, prefix: str = "kbc_storage_") -> str:
    """Create a database with a unique name on ``url``'s server; its SQLAlchemy URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    with psycopg.connect(autocommit=True, **admin_conninfo(url)) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str, database_url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    name = make_url(database_url).database
    with psycopg.connect(autocommit=True, **admin_conninfo(url)) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_storage_url(pg_url: str):
    """SQLAlchemy URL of a new, empty database (dropped when the test ends)."""
    url = create_database(pg_url)
    try:
        yield url
    finally:
        drop_database(pg_url, url)
