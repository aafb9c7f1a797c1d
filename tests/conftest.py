"""Shared fixtures: isolated project folders and the real database services.

PostgreSQL (127.0.0.1:5432, trust auth, database ``test``) and MariaDB (127.0.0.1:3306,
root with an empty password, database ``test``) are used for real. Without them, tests
that need them skip with the reason — unless ``KBC_REQUIRE_SERVICES=1`` (CI), where a
missing service fails the test.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.helpers.demo import copy_demo

ROOT = Path(__file__).resolve().parent.parent

PG_URL = os.environ.get("KBC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("KBC_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


def _service(name: str, url: str) -> str:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure to reach it: skip or fail, saying why
        reason = f"{name} not reachable at {url}: {str(exc).splitlines()[0]}"
        if os.environ.get("KBC_REQUIRE_SERVICES") == "1":
            pytest.fail(f"KBC_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    return url


@pytest.fixture(scope="session")
def pg_url() -> str:
    """SQLAlchemy URL of the real PostgreSQL service (skip/fail if absent)."""
    return _service("PostgreSQL", PG_URL)


@pytest.fixture(scope="session")
def mysql_url() -> str:
    """SQLAlchemy URL of the real MariaDB service (skip/fail if absent)."""
    return _service("MariaDB", MYSQL_URL)


@pytest.fixture
def unique() -> str:
    """A short unique suffix for table/schema names: tests share the database servers."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def demo_project(tmp_path: Path) -> Path:
    """A private copy of the demo project as committed (without any .kbc state): the tests pass whatever a
    newcomer changed in configs/ while trying the app (tests/helpers/demo.py)."""
    return copy_demo(tmp_path / "configs")


@pytest.fixture
def empty_project(tmp_path: Path) -> Path:
    """A minimal valid project: kbc.toml and empty folders."""
    root = tmp_path / "project"
    (root / "components").mkdir(parents=True)
    (root / "orchestrations").mkdir()
    (root / "kbc.toml").write_text('name = "test project"\n')
    return root


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's own project, user or secret key."""
    for var in ("KBC_PROJECT", "KBC_USER_EMAIL", "KBC_SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
