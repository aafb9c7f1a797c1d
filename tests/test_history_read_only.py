"""Reading the job history needs no write: on a full disk or a read-only project, ``jobs`` and ``job N`` open it
read-only, show what is there and say so in one line on stderr; writes still fail in words."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.helpers.cli import KBC, kbc, project_with_a_job
from tests.helpers.projects import orchestration, project, sql_config
from tests.helpers.readonly import read_only
from tests.test_state_failures import small_disk  # noqa: F401 (a fixture)


@pytest.fixture
def root(tmp_path):
    return project_with_a_job(tmp_path / "p")


def read_only_note(out, why: str) -> None:
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "read-only" in lines[0] and why in lines[0], out.stderr


def listed(root, run=kbc, why="read-only folder"):
    """``jobs``, ``jobs --json``, ``job 1``, ``job 1 --json`` all show job 1 and say the history is read-only."""
    out = run("jobs", root=root)
    read_only_note(out, why)
    assert "good" in out.stdout and "success" in out.stdout, out.stdout
    out = run("jobs", "--json", root=root)
    read_only_note(out, why)
    assert [(j["id"], j["status"]) for j in json.loads(out.stdout)] == [(1, "success")]
    out = run("job", "1", root=root)
    read_only_note(out, why)
    assert "ok" in out.stdout, out.stdout
    out = run("job", "1", "--json", root=root)
    read_only_note(out, why)
    detail = json.loads(out.stdout)
    assert detail["status"] == "success" and [t["config"] for t in detail["tasks"]] == ["ok"] and detail["log"]


def test_a_read_only_project_lists_its_jobs_and_still_refuses_to_run(root):
    with read_only(root):
        listed(root)
        out = kbc("run", "good", root=root)
        assert out.returncode == 1 and "jobs.sqlite" in out.stderr and "Traceback" not in out.stderr, out.stderr


def set_version_0(path) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 0")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def test_a_history_from_before_versions_on_a_read_only_folder_is_listed_as_it_is(root):
    path = root / ".kbc" / "jobs.sqlite"
    set_version_0(path)
    with read_only(root):
        listed(root)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0  # untouched
    db.close()


def test_an_old_layout_that_cannot_be_read_as_it_is_says_what_to_do(root):
    path = root / ".kbc" / "jobs.sqlite"
    db = sqlite3.connect(path)
    db.execute("DROP TABLE notifications")  # a layout from before e-mail alerts
    db.close()
    set_version_0(path)
    with read_only(root):
        for args in (["jobs"], ["job", "1"]):
            out = kbc(*args, root=root)
            assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
            lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
            assert len(lines) == 1 and str(path) in lines[0] and "older kbc-tui" in lines[0], out.stderr
            assert "writable" in lines[0], lines[0]


def test_a_full_disk_lists_the_jobs_and_says_the_history_is_read_only(tmp_path, small_disk):  # noqa: F811
    src = project(tmp_path / "src")
    sql_config(src, "ok", "create table t as select 1 as id;", ["t"])
    orchestration(src, "good", [["ok"]])
    root = small_disk.path / "p"
    assert small_disk.run("cp", "-a", str(src), str(root)).returncode == 0
    ran = small_disk.run(*KBC, "run", "good", "--project", str(root))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    small_disk.run("sh", "-c", f"cat /dev/zero > '{small_disk.path}/fill'")  # fails once the disk is full
    assert small_disk.run("sh", "-c", f"echo x > '{small_disk.path}/more'").returncode != 0  # it is full

    def run(*args, root):
        return small_disk.run(*KBC, *args, "--project", str(root))

    listed(root, run, why="disk full")
    out = run("run", "good", root=root)
    assert out.returncode == 1 and "disk full" in out.stdout + out.stderr, out.stdout + out.stderr


async def test_the_app_engine_on_a_read_only_project_lists_the_jobs_it_cannot_run(root):
    from kbc_tui.engine import Engine

    with read_only(root):
        engine = Engine(root, tolerate_broken_history=True)  # as the app opens it
        try:
            await engine.start(run_jobs=True, scheduler=False)
            assert not engine.is_runner
            assert "read-only" in engine.problem and "jobs.sqlite" in engine.problem, engine.problem
            assert [(j.id, j.status.value) for j in engine.list_jobs()] == [(1, "success")]
            assert [t.config for t in engine.get_job(1).tasks] == ["ok"] and engine.job_log(1)
        finally:
            await engine.stop(grace=0)


def test_a_pending_write_ahead_log_that_cannot_be_merged_is_not_skipped(root):
    """Changes left in ``-wal`` (a writer that died) with no ``-shm`` to read them through: the history is not
    read without them (``immutable`` would silently skip them); one line says why."""
    import shutil

    path = root / ".kbc" / "jobs.sqlite"
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("UPDATE jobs SET message = 'pending' WHERE id = 1")
    writer.commit()
    copy = root / ".kbc" / "copy"
    copy.mkdir()
    for name in ("jobs.sqlite", "jobs.sqlite-wal"):  # as a crash leaves them, without the -shm
        shutil.copy(path.with_name(name), copy / name)
    writer.close()
    assert (copy / "jobs.sqlite-wal").stat().st_size > 0
    from kbc_tui.errors import StateError
    from kbc_tui.store.history_read_only import open_for_reading

    with read_only(root):
        with pytest.raises(StateError) as caught:
            open_for_reading(copy / "jobs.sqlite")
    assert "jobs.sqlite-wal" in str(caught.value) and "read-only folder" in str(caught.value), caught.value
