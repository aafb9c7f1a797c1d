"""The state folder ``.kbc/`` (extracted data, job logs, the secret key) is the owner's alone: 0700, files 0600,
whatever the umask; an older, looser one is tightened when kbc-tui opens it, and validate says so until then."""

import os
import stat

import pytest

from tests.helpers.cli import kbc


def modes(folder):
    """{relative path: permission bits} of ``folder`` and everything in it."""
    found = {".": stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def assert_private(folder):
    for name, mode in modes(folder).items():
        expected = 0o700 if (folder / name).is_dir() else 0o600
        assert mode == expected, f"{name}: {oct(mode)}, expected {oct(expected)}"


@pytest.mark.parametrize("umask", [0o022, 0o002], ids=["umask-022", "umask-002"])
def test_a_run_leaves_only_owner_only_state(demo_project, umask):
    settings = demo_project / "kbc.toml"
    settings.write_text(settings.read_text() + '\n[smtp]\nhost = "mail"\nsecurity = "tls"\n"#password" = "pw"\n')
    assert kbc("encrypt", root=demo_project, umask=umask).returncode == 0  # secret.key
    out = kbc("run", "sales-to-tableau", root=demo_project, umask=umask)  # history, storage, lock, Hyper's logs
    assert out.returncode == 0, out.stdout + out.stderr
    state = demo_project / ".kbc"
    names = set(modes(state))
    assert {"secret.key", "jobs.sqlite", "storage.duckdb", "runner.lock", "hyper"} <= names, names
    assert any(name.startswith("hyper/") for name in names), names
    assert_private(state)


def test_sqlite_side_files_and_caches_are_private(demo_project):
    from kbc_tui.engine import Engine
    from kbc_tui.store import Project
    from kbc_tui.store.schedule_cache import ScheduleCache

    old = os.umask(0o022)
    try:
        project = Project.load(demo_project, quick=True)  # writes the orchestrations cache
        engine = Engine(project)  # opens the job history (WAL: -wal and -shm beside it while open)
        engine.history.execute("SELECT count(*) FROM jobs")
        cache = ScheduleCache(project.state_dir)
        cache.put("0 6 * * *", "UTC", "At 06:00 (UTC)", None)
        cache.save()
        names = set(modes(project.state_dir))
        assert {"orchestrations-cache.json", "schedule-cache.json", "jobs.sqlite-wal", "jobs.sqlite-shm"} <= names
        assert_private(project.state_dir)
        engine.history.close()
    finally:
        os.umask(old)


def test_a_duckdb_storage_file_is_private_wherever_it_is(tmp_path):
    from kbc_tui.storage.duckdb_storage import DuckDBStorage

    old = os.umask(0o022)
    try:
        storage = DuckDBStorage(tmp_path / "data" / "tables.duckdb")
        with storage.connect() as con:
            con.execute("create table t as select 1 as x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700  # a folder it made
    assert stat.S_IMODE((tmp_path / "data" / "tables.duckdb").stat().st_mode) == 0o600


def test_a_loose_state_folder_is_reported_then_tightened(demo_project):
    assert kbc("run", "sales-to-gooddata", root=demo_project).returncode == 0
    state = demo_project / ".kbc"
    for path in [state, *state.rglob("*")]:  # as an older kbc-tui (or a copy) left it
        path.chmod(0o755 if path.is_dir() else 0o644)
    out = kbc("validate", root=demo_project)
    assert out.returncode == 0
    assert out.stdout.splitlines()[0] == (
        ".kbc: warning: it is open to other users (mode 0755) and holds extracted data, job logs and the secret key; "
        "kbc-tui makes it 0700 the next time it opens it, or run 'chmod -R go-rwx .kbc'")
    assert kbc("jobs", root=demo_project).returncode == 0  # opens the state
    assert_private(state)
    assert "warning" not in kbc("validate", root=demo_project).stdout


def test_a_scratch_file_is_private_from_the_start(tmp_path):
    """The pipe a COPY or a download streams through lives in this process's scratch folder, owner-only."""
    from kbc_tui.components._feed import Feed
    from kbc_tui.components.base import CancelToken, RunContext

    ctx = RunContext(config=None, parameters={}, storage=None, log=None, cancel=CancelToken(),
                     project_root=tmp_path, state_dir=tmp_path / ".kbc")
    old = os.umask(0o022)
    try:
        feed = Feed(ctx.scratch_dir)
    finally:
        os.umask(old)
    path = feed.path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (path.parent, path.parent.parent, path.parent.parent.parent):  # tmp/<pid>, tmp, .kbc
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    path.unlink()

