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


# -- the job state: every engine test runs against SQLite and PostgreSQL (issue 13) ----------------------------

#: test modules run once per job-state implementation: the engine, runner, scheduler, notifier and CLI tests. With
#: ``postgresql`` the test's processes get ``KBC_STATE_URL`` naming a database of the test's own, so the very same
#: test runs on the shared state (workers, heartbeats, no runner lock). A test that is about SQLite itself (its
#: file, the runner lock, a full disk under it) is marked ``sqlite_state`` and skips on PostgreSQL, saying why.
BOTH_STATES = {
    "test_engine", "test_runner_edges", "test_scheduler", "test_notifications", "test_notifier_edges",
    "test_notifier_rules", "test_notifier_mail", "test_catch_notifications", "test_catch_timing", "test_catch_state",
    "test_incremental", "test_job_log_lines", "test_log_view", "test_stop_never_hangs", "test_demo_run",
    "test_cli_run", "test_masking", "test_hyper_cancel", "test_writers", "test_db_extractor",
}
STATE_BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rpartition(".")[2]
    if module in BOTH_STATES:
        if "state_backend" not in metafunc.fixturenames:
            metafunc.fixturenames.append("state_backend")
        metafunc.parametrize("state_backend", STATE_BACKENDS, indirect=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_state(reason): about the SQLite job state itself; skipped when the "
                                       "test runs on the PostgreSQL state")


@pytest.fixture
def state_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` (the default: ``.kbc/jobs.sqlite``) or ``postgresql`` (``KBC_STATE_URL`` = a fresh database)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(autouse=True)
def _state_backend_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """For a test parametrized with ``state_backend = postgresql``: a database of its own, named by
    ``KBC_STATE_URL`` for the test and every process it starts (a fixture added by ``pytest_generate_tests``
    is not set up by itself: this one is, for every test)."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is None or callspec.params.get("state_backend") != "postgresql":
        yield
        return
    marker = request.node.get_closest_marker("sqlite_state")
    if marker is not None:
        pytest.skip("SQLite job state only: " + (marker.args[0] if marker.args else "about the SQLite file"))
    from tests.helpers.pg import create_database, drop_database, with_database

    url = request.getfixturevalue("pg_url")
    name = create_database(url, "kbc_state")
    monkeypatch.setenv("KBC_STATE_URL", with_database(url, name))
    try:
        yield
    finally:
        drop_database(url, name)
