"""When the project's state cannot be written or read: a full disk, a damaged or unwritable job history.

Every job still ends in a final state with the cause in words, the runner stops taking jobs (loudly) while
the history cannot be written, the next runner ends the unrecorded job as ``terminated`` and alerts, and
every command says what is wrong in one line instead of a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import kbc_tui.engine.engine as engine_module
from kbc_tui.engine import Engine
from kbc_tui.engine.events import EngineProblem
from kbc_tui.errors import KbcError, StateError
from kbc_tui.model.job import JobStatus, TaskStatus
from tests.helpers.projects import ENDLESS, orchestration, project, sql_config

KBC = [sys.executable, "-m", "kbc_tui"]


def break_history(history) -> None:
    """The job history stops taking writes, as on a full disk or a file turned read-only under us (SQLite's
    own read-only failure; reads still work, as they do on a full disk)."""
    history.execute("PRAGMA query_only = 1")


def mend_history(history) -> None:
    history.execute("PRAGMA query_only = 0")


async def until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.fixture
def root(tmp_path):
    root = project(tmp_path / "p", user={"email": "me@example.com"}, smtp={"host": "127.0.0.1", "port": 9})
    sql_config(root, "slow", ENDLESS, ["t"])
    sql_config(root, "quick", "create table q as select 1 as x;", ["q"])
    orchestration(root, "slow", [["slow"]], notifications={"error": ["ops@example.com"]})
    orchestration(root, "quick", [["quick"]])
    return root


async def test_a_history_that_cannot_be_written_mid_job_stops_the_runner_and_the_job_is_terminated_later(root, monkeypatch):
    monkeypatch.setattr(engine_module, "FAULT_RETRY_SECONDS", 0.3)
    engine = Engine(root, poll_seconds=0.05)
    problems = []
    engine.events.subscribe(lambda e: problems.append(e.message) if isinstance(e, EngineProblem) else None)
    await engine.start(scheduler=False)
    try:
        job = await engine.enqueue("slow")
        assert await until(lambda: engine.history.task_runs(job.id)
                           and engine.history.task_runs(job.id)[0].status is TaskStatus.PROCESSING)
        break_history(engine.history)
        await engine.cancel(job.id)  # its log line cannot be written: the runner finds out here
        assert await until(lambda: not engine.is_runner and not engine.running_jobs())
        assert problems and "read-only" in problems[0] and "stopped running jobs" in problems[0]
        started = time.monotonic()
        with pytest.raises(KbcError, match="could not be recorded"):
            await asyncio.wait_for(engine.wait(job.id), 5)  # `kbc-tui run` must not wait forever
        assert time.monotonic() - started < 5
        with pytest.raises(KbcError, match="read-only"):
            await engine.enqueue("quick")  # nothing new is accepted while nothing can be recorded
        mend_history(engine.history)
        assert await until(lambda: engine.is_runner and engine.problem is None)
        assert problems[-1] is None  # "over": the app takes its warning down
        done = engine.get_job(job.id)
        assert done.status is JobStatus.TERMINATED
        assert "job history could not be written" in done.message and "read-only" in done.message
        assert [n.event for n in engine.notifications(job.id)] == ["error"]  # the alert goes out after all
        after = await engine.enqueue("quick")
        assert (await asyncio.wait_for(engine.wait(after.id), 30)).status is JobStatus.SUCCESS
    finally:
        await engine.stop(grace=0)


async def test_a_job_ending_while_the_history_cannot_be_written_is_alerted_once_it_is_writable(root, monkeypatch):
    """The job's end is recorded (status updates fit), but its e-mail cannot be queued: it is, later."""
    monkeypatch.setattr(engine_module, "FAULT_RETRY_SECONDS", 0.3)
    sql_config(root, "bad", "select nope;", ["x"])
    orchestration(root, "bad", [[{"config": "bad", "retries": 1, "retry_delay_seconds": 1}]],
                  notifications={"error": ["ops@example.com"]})
    engine = Engine(root, poll_seconds=0.05)
    await engine.start(scheduler=False)
    try:
        job = await engine.enqueue("bad")
        assert await until(lambda: any("retrying in" in ln.text for ln in engine.job_log(job.id)))
        break_history(engine.history)
        assert await until(lambda: engine.problem is not None)
        mend_history(engine.history)
        assert await until(lambda: engine.is_runner and engine.problem is None)
        assert await until(lambda: engine.get_job(job.id).status.finished)
        assert engine.get_job(job.id).status in (JobStatus.ERROR, JobStatus.CANCELLED, JobStatus.TERMINATED)
        assert await until(lambda: [n.event for n in engine.notifications(job.id)] == ["error"])
    finally:
        await engine.stop(grace=0)


# -- a real full disk: the project on a small tmpfs, in a private mount namespace --------------------------
class SmallDisk:
    """A tmpfs of ``size`` mounted at ``path`` in a mount namespace of its own (``unshare -m``, or ``-r -m``
    without root): commands run inside it with ``nsenter``; nothing outside the test sees the mount."""

    def __init__(self, path, size: str):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        user = [] if os.geteuid() == 0 else ["-r"]
        self._enter = ["nsenter", "-t"] + ([] if os.geteuid() == 0 else ["-U", "--preserve-credentials"])
        self.holder = subprocess.Popen(
            ["unshare", *user, "-m", "--propagation", "private", "sh", "-c",
             f"mount -t tmpfs -o size={size} tmpfs '{path}' && echo mounted && exec sleep 600"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.holder.stdout.readline()
        if "mounted" not in line:
            self.holder.kill()
            raise RuntimeError(self.holder.stderr.read().strip() or "mount failed")

    def run(self, *cmd, timeout=120, **kwargs):
        return subprocess.run([*self._enter, str(self.holder.pid), "-m", *cmd], capture_output=True, text=True,
                              timeout=timeout, **kwargs)

    def close(self):
        self.holder.kill()
        self.holder.wait()


@pytest.fixture
def small_disk(tmp_path):
    if not shutil.which("unshare") or not shutil.which("nsenter"):
        pytest.skip("needs unshare and nsenter (util-linux) to mount a small file system for the test")
    try:
        disk = SmallDisk(tmp_path / "disk", "16m")
    except RuntimeError as exc:
        pytest.skip(f"cannot mount a tmpfs in a private mount namespace here: {exc}")
    yield disk
    disk.close()


def test_a_full_disk_ends_the_job_with_the_cause_and_the_next_runner_recovers(tmp_path, small_disk):
    src = project(tmp_path / "src")
    sql_config(src, "big", "create table big as select range as id, md5(range::varchar) || md5((range + 1)::varchar)"
                           " as a, md5((range + 2)::varchar) as b from range(3000000);", ["big"])
    sql_config(src, "quick", "create table q as select 1 as x;", ["q"])
    orchestration(src, "big", [["big"]])
    orchestration(src, "quick", [["quick"]])
    root = small_disk.path / "p"
    assert small_disk.run("cp", "-a", str(src), str(root)).returncode == 0
    started = time.monotonic()
    out = small_disk.run(*KBC, "run", "big", "--project", str(root), timeout=180)
    assert out.returncode == 1, out.stdout + out.stderr
    assert time.monotonic() - started < 120
    said = out.stdout + out.stderr
    assert "disk full" in said and "Traceback" not in said, said
    # the operator frees space; the next runner finds the job in a final state, or ends it, and runs the next
    small_disk.run("sh", "-c", f"rm -rf '{root}/.kbc/storage.duckdb.tmp'")
    small_disk.run("rm", "-f", str(root / ".kbc" / "storage.duckdb"), str(root / ".kbc" / "storage.duckdb.wal"))
    again = small_disk.run(*KBC, "run", "quick", "--project", str(root))
    assert again.returncode == 0, again.stdout + again.stderr
    listing = small_disk.run(*KBC, "jobs", "--json", "--project", str(root))
    jobs = {j["orchestration"]: j for j in json.loads(listing.stdout)}
    assert jobs["big"]["status"] in ("error", "terminated")
    detail = json.loads(small_disk.run(*KBC, "job", str(jobs["big"]["id"]), "--json", "--project",
                                       str(root)).stdout)
    assert "disk full" in jobs["big"]["message"] + " ".join(ln["text"] for ln in detail["log"])


# -- the task's own state (an incremental extraction's last fetched value) cannot be saved -------------------
async def test_a_task_whose_new_state_cannot_be_saved_fails_and_the_state_stays_the_previous_one(tmp_path, monkeypatch):
    """Only the state write fails (SQLite refuses that one table, as it refuses a read-only file): the task that
    fetched new rows must not say success, and the saved last value stays where it was, so the next run (the
    history writable again) fetches those rows again instead of never loading them."""
    import sqlalchemy as sa

    from tests.helpers.components import write_config

    monkeypatch.setattr(engine_module, "FAULT_RETRY_SECONDS", 0.3)
    root = project(tmp_path / "p")
    source = sa.create_engine(f"sqlite:///{tmp_path / 'source.sqlite'}")
    with source.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id int PRIMARY KEY, updated_at TIMESTAMP)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1, '2026-01-01 00:00:00'), (2, '2026-01-02 00:00:00')"))
    write_config(root, "db-extractor", "src", {"url": f"sqlite:///{tmp_path / 'source.sqlite'}", "tables": [
        {"name": "t", "table": "t", "output": "in.c-db.t", "primary_key": ["id"],
         "incremental_fetching_column": "updated_at"}]})
    engine = Engine(root, poll_seconds=0.05)
    await engine.start(scheduler=False)
    try:
        first = await asyncio.wait_for(engine.wait((await engine.enqueue("run-db-extractor-src")).id), 30)
        assert first.status is JobStatus.SUCCESS and first.tasks[0].rows == 2
        before = engine.history.component_state("db-extractor", "src")
        assert before == {"last_fetched": {"t": "2026-01-02T00:00:00"}}
        with source.begin() as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (3, '2026-01-03 00:00:00')"))
        for when in ("INSERT", "UPDATE"):
            engine.history.execute(f"CREATE TRIGGER no_state_{when.lower()} BEFORE {when} ON component_state "
                                   "BEGIN SELECT RAISE(ABORT, 'attempt to write a readonly database'); END")
        job = await engine.enqueue("run-db-extractor-src")
        assert await until(lambda: engine.get_job(job.id).status.finished, 30)
        done = engine.get_job(job.id)
        task = done.tasks[0]
        assert task.status is TaskStatus.ERROR, (task.status, task.message)
        assert "new state" in task.message and "could not be saved" in task.message
        assert done.status is not JobStatus.SUCCESS
        assert engine.history.component_state("db-extractor", "src") == before
        for when in ("insert", "update"):
            engine.history.execute(f"DROP TRIGGER no_state_{when}")
        assert await until(lambda: engine.is_runner and engine.problem is None)
        again = await asyncio.wait_for(engine.wait((await engine.enqueue("run-db-extractor-src")).id), 30)
        assert again.status is JobStatus.SUCCESS
        assert again.tasks[0].rows == 2  # the boundary row and row 3, fetched again
        assert engine.history.component_state("db-extractor", "src") == {"last_fetched": {"t": "2026-01-03T00:00:00"}}
    finally:
        await engine.stop(grace=0)
        source.dispose()


FILL = ("import os, sys; from pathlib import Path; path = Path(sys.argv[1]); leave = int(sys.argv[2]); "
        "fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)\n"
        "while os.statvfs(path).f_bavail * os.statvfs(path).f_frsize > leave:\n"
        "    try: os.write(fd, b'x' * min(1 << 20, max(4096, os.statvfs(path).f_bavail * os.statvfs(path).f_frsize - leave)))\n"
        "    except OSError: break\n"
        "os.close(fd)")


def test_a_nearly_full_and_a_full_disk_with_jobs_encrypt_and_run(tmp_path, small_disk):
    """On the project's disk: with less room left than the reserve kbc-tui keeps to record jobs, `kbc-tui run`
    says "disk almost full" at once, before its job (which may then fill the disk); on a full disk, `kbc-tui jobs`
    lists the jobs and says the history is read-only, `kbc-tui encrypt` says what is wrong in one line, exits 1,
    and nothing is lost: the file is unchanged, the jobs are all there once there is room again."""
    src = project(tmp_path / "src")
    sql_config(src, "quick", "create table q as select 1 as x;", ["q"])
    orchestration(src, "quick", [["quick"]])
    (src / "components" / "db-extractor").mkdir(parents=True)
    plain = 'name = "src"\n\n[parameters]\nurl = "sqlite:///x.sqlite"\n"#password" = "hunter2"\n'
    (src / "components" / "db-extractor" / "src.toml").write_text(plain)
    root = small_disk.path / "p"
    assert small_disk.run("cp", "-a", str(src), str(root)).returncode == 0
    first = small_disk.run(*KBC, "run", "quick", "--project", str(root))
    assert first.returncode == 0 and "almost full" not in first.stderr, first.stdout + first.stderr
    reserve = root / ".kbc" / "reserve"
    assert small_disk.run("test", "-s", str(reserve)).returncode == 0  # the runner made its reserve
    # less room than the reserve's 2 MB: the runner cannot make it again, and says so
    small_disk.run("rm", str(reserve))
    filler = small_disk.path / "filler"
    small_disk.run(sys.executable, "-c", FILL, str(filler), str(1900 << 10))
    almost = small_disk.run(*KBC, "run", "quick", "--project", str(root))
    said = almost.stdout + almost.stderr
    assert almost.returncode in (0, 1), said
    assert almost.stderr.startswith("kbc-tui: disk almost full: no room for the 2 MB kbc-tui keeps free"), said
    assert "Traceback" not in said
    # a full disk
    small_disk.run(sys.executable, "-c", FILL, str(filler), "0")
    listing = small_disk.run(*KBC, "jobs", "--project", str(root))
    assert listing.returncode == 0, listing.stdout + listing.stderr  # read without a write, and said so
    assert listing.stderr.startswith("kbc-tui: the job history ") and "read-only (disk full)" in listing.stderr
    assert len(listing.stderr.strip().splitlines()) == 1 and "quick" in listing.stdout, listing.stdout + listing.stderr
    config = root / "components" / "db-extractor" / "src.toml"
    encrypt = small_disk.run(*KBC, "encrypt", "--project", str(root))
    assert encrypt.returncode == 1, encrypt.stdout + encrypt.stderr
    lines = encrypt.stderr.strip().splitlines()
    assert len(lines) == 1 and "disk full" in lines[0], encrypt.stdout + encrypt.stderr
    assert small_disk.run("cat", str(config)).stdout == plain  # nothing lost, nothing half-written
    small_disk.run("rm", str(filler))
    listing = small_disk.run(*KBC, "jobs", "--json", "--project", str(root))
    assert [j["status"] for j in json.loads(listing.stdout)][-1:] == ["success"], listing.stderr
