"""``kbc-tui run / jobs / job / cancel`` as a user runs them: real subprocesses."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime

import pytest

from kbc_tui.storage.duckdb_storage import DuckDBStorage
from tests.helpers.cli import kbc, KBC
from tests.helpers.projects import ENDLESS, orchestration, project, sql_config


@pytest.fixture
def root(tmp_path):
    root = project(tmp_path / "p")
    sql_config(root, "ok", "create table t as select range as id from range(3);", ["t"])
    sql_config(root, "bad", "select nope;", ["x"])
    sql_config(root, "slow", ENDLESS, ["t"])
    orchestration(root, "good", [["ok"]])
    orchestration(root, "soft", [[{"config": "bad", "continue_on_failure": True}], ["ok"]])
    orchestration(root, "broken", [["bad"]])
    orchestration(root, "slow", [["slow"]])
    return root


def test_run_exit_codes_and_progress(root):
    ok = kbc("run", "good", root=root)
    assert ok.returncode == 0, ok.stderr
    assert "Task sql-transformation/ok succeeded" in ok.stdout
    assert "Job 1 (good): success" in ok.stdout
    assert kbc("run", "soft", root=root).returncode == 3
    bad = kbc("run", "broken", root=root)
    assert bad.returncode == 1
    assert "SQL error in statement 1" in bad.stdout


def test_run_unknown_orchestration_is_one_clear_line(root):
    out = kbc("run", "nope", root=root)
    assert out.returncode == 1
    assert out.stderr.strip() == "kbc-tui: unknown orchestration 'nope' (no file orchestrations/nope.toml)"


def test_jobs_json_fields(root):
    kbc("run", "good", root=root)
    kbc("run", "broken", root=root)
    out = kbc("jobs", "--json", root=root)
    jobs = json.loads(out.stdout)
    assert [j["status"] for j in jobs] == ["error", "success"]
    for job in jobs:
        assert {"id", "orchestration", "status", "trigger", "triggered_by", "created_at", "started_at",
                "finished_at", "duration_s"} <= set(job)
        assert job["trigger"] == "manual"
        for key in ("created_at", "started_at", "finished_at"):
            assert datetime.fromisoformat(job[key]).utcoffset() is not None
    only = json.loads(kbc("jobs", "--json", "--orchestration", "good", root=root).stdout)
    assert [j["orchestration"] for j in only] == ["good"]
    detail = json.loads(kbc("job", str(jobs[0]["id"]), "--json", root=root).stdout)
    assert detail["tasks"][0]["status"] == "error" and any("failed" in ln["text"] for ln in detail["log"])


def test_no_wait_then_another_process_runs_it(root, state_backend):
    queued = kbc("run", "good", "--no-wait", root=root)
    job_id = int(queued.stdout.strip())
    assert json.loads(kbc("jobs", "--json", root=root).stdout)[0]["status"] == "waiting"
    later = kbc("run", "good", root=root)
    assert later.returncode == 0 and f"Job {job_id + 1} (good): success" in later.stdout, later.stdout + later.stderr
    out = kbc("job", str(job_id), root=root)
    if state_backend == "sqlite":
        # a later run (holding the runner lock) executes the queue, including that job
        assert out.returncode == 0 and "success" in out.stdout
    else:
        # a shared state: the workers (`kbc-tui scheduler`, the app) run the queue; `run` runs its own job only
        assert json.loads(kbc("job", str(job_id), "--json", root=root).stdout)["status"] == "waiting"


def _wait_for_task_running(root, proc, timeout=60):
    """Wait until job 1's first task is processing; on a timeout, say what the run and the history showed."""
    deadline = time.time() + timeout
    out = None
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        out = kbc("job", "1", "--json", root=root)
        if out.returncode in (0, 1) and out.stdout.strip():
            data = json.loads(out.stdout)
            if data["tasks"] and data["tasks"][0]["status"] == "processing":
                return
        time.sleep(0.2)
    proc.kill()
    stdout, stderr = proc.communicate(timeout=15)
    raise AssertionError(f"the task never started (run exit {proc.returncode}); run stdout: {stdout!r}; "
                         f"run stderr: {stderr!r}; last `job 1 --json`: {out and (out.returncode, out.stdout, out.stderr)!r}")


def test_sigkill_mid_task_becomes_terminated_and_keeps_the_table(root, state_backend):
    """SQLite: the next process taking the runner lock sees the job's process is gone. A shared state: the job's
    worker stops beating; the next worker ends the job once ``heartbeat_timeout`` (2 s here) has passed."""
    if state_backend == "postgresql":
        with (root / "kbc.toml").open("a") as f:
            f.write("\n[state]\nheartbeat_timeout = 2\n")
    sql_config(root, "seed", "create table t as select 7 as id;", ["t"])
    orchestration(root, "seed", [["seed"]])
    assert kbc("run", "seed", root=root).returncode == 0  # job 1; the slow job is job 2
    proc = subprocess.Popen([*KBC, "run", "slow", "--project", str(root)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        data = json.loads(kbc("jobs", "--json", root=root).stdout)
        if data[0]["id"] == 2 and data[0]["status"] == "processing":
            detail = json.loads(kbc("job", "2", "--json", root=root).stdout)
            if detail["tasks"] and detail["tasks"][0]["status"] == "processing":
                break
        time.sleep(0.2)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    storage = DuckDBStorage(root / ".kbc" / "storage.duckdb")
    assert storage.preview("out.c-test.t")[1] == [(7,)], "the interrupted task changed the table"
    assert [str(t.id) for t in storage.list_tables()] == ["out.c-test.t"], "a staging table was left visible"
    # the next process that takes the runner lock (SQLite) / the next worker, once the heartbeat is overdue
    # (a shared state), recovers the job
    if state_backend == "postgresql":
        time.sleep(2.5)
    sql_config(root, "other", "create table o as select 1 as x;", ["o"])
    orchestration(root, "other", [["other"]])
    assert kbc("run", "other", root=root).returncode == 0
    jobs = {j["id"]: j for j in json.loads(kbc("jobs", "--json", root=root).stdout)}
    assert jobs[2]["status"] == "terminated"
    detail = json.loads(kbc("job", "2", "--json", root=root).stdout)
    assert detail["tasks"][0]["status"] == "terminated"
    ended = "died" if state_backend == "sqlite" else "stopped answering (no heartbeat for 2 s)"
    assert any(ended in ln["text"] for ln in detail["log"]), detail["log"]
    assert storage.preview("out.c-test.t")[1] == [(7,)]
    with storage.connect() as con:  # the killed transformation's workspace is gone too
        assert con.execute("SELECT schema_name FROM duckdb_schemas() WHERE starts_with(schema_name, '_kbc_tx_')"
                           ).fetchall() == []


def test_cancel_command_stops_a_running_job(root):
    proc = subprocess.Popen([*KBC, "run", "slow", "--project", str(root)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_task_running(root, proc)
        out = kbc("cancel", "1", root=root)
        assert out.returncode == 0, out.stderr
        assert "Job 1: cancelled" in out.stdout
        assert proc.wait(timeout=15) == 1
    finally:
        proc.kill()


def test_ctrl_c_on_run_cancels_the_job(root):
    proc = subprocess.Popen([*KBC, "run", "slow", "--project", str(root)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_task_running(root, proc)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 1
        assert json.loads(kbc("jobs", "--json", root=root).stdout)[0]["status"] == "cancelled"
    finally:
        proc.kill()


@pytest.mark.parametrize("kind, fast", [("postgresql", True), ("postgresql", False), ("mariadb", False)])
def test_sigterm_ends_run_while_the_query_waits_on_a_lock(request, tmp_path, unique, kind, fast):
    """The extraction's query waits on a table another session locked: SIGTERM still ends `kbc-tui run` within
    seconds, the query is stopped on the server, and the job is recorded as cancelled."""
    import sqlalchemy as sa

    from tests.helpers.components import write_config

    url = request.getfixturevalue("pg_url" if kind == "postgresql" else "mysql_url")
    name = f"locked_{unique}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {name} (id int PRIMARY KEY)"))
        conn.execute(sa.text(f"INSERT INTO {name} VALUES (1)"))
    locker = engine.connect()
    try:
        if kind == "postgresql":
            locker.execute(sa.text("BEGIN"))
            locker.execute(sa.text(f"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE"))
        else:
            locker.execute(sa.text(f"LOCK TABLES {name} WRITE"))
        root = project(tmp_path / "p")
        write_config(root, "db-extractor", "src", {"url": url, "tables": [
            {"name": "t", "table": name, "output": "in.c-db.t", "fast": fast}]})
        proc = subprocess.Popen([*KBC, "run", "run-db-extractor-src", "--project", str(root)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_for_task_running(root, proc)
            time.sleep(1.0)  # the query is sent and waits on the lock
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 1
            assert time.monotonic() - started < 8
        finally:
            proc.kill()
        job = json.loads(kbc("jobs", "--json", root=root).stdout)[0]
        assert job["status"] == "cancelled", job
    finally:
        locker.rollback() if kind == "postgresql" else locker.execute(sa.text("UNLOCK TABLES"))
        locker.close()
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        engine.dispose()


# -- `kbc-tui run` ends even when the job's runner does not answer its cancel -----------------------------------
#: `kbc-tui run` with a shorter CANCEL_WAIT_SECONDS (1.5 s instead of 10 s), so the test need not wait 10 s
KBC_SHORT_WAIT = [sys.executable, "-c", "import kbc_tui.commands.run as r; r.CANCEL_WAIT_SECONDS = 1.5; "
                  "from kbc_tui.cli import main; raise SystemExit(main())"]


def _wait_for_job_processing(root, job_id, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = kbc("job", str(job_id), "--json", root=root)
        if out.returncode in (0, 1) and out.stdout.strip():
            tasks = json.loads(out.stdout)["tasks"]
            if tasks and tasks[0]["status"] == "processing":
                return
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never started")


@pytest.mark.sqlite_state("`kbc-tui run` follows a job another process runs only where one process holds the "
                           "runner lock; in a shared state it runs its own job itself")
@pytest.mark.parametrize("how", ["second signal", "no answer in time"])
def test_run_stops_waiting_for_a_runner_that_does_not_answer_its_cancel(root, how):
    """Another process runs the job and stops answering (suspended with Ctrl+Z, here SIGSTOP). Ctrl+C on `kbc-tui
    run` asks for the cancel; a second signal, or no answer within CANCEL_WAIT_SECONDS, ends `run` with one line
    and exit 1. The cancel request stands: once the runner answers again, the job ends cancelled."""
    orchestration(root, "slow2", [["slow"]])
    runner = subprocess.Popen([*KBC, "run", "slow", "--project", str(root)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    follower = None
    try:
        _wait_for_job_processing(root, 1)
        command = KBC if how == "second signal" else KBC_SHORT_WAIT  # the second signal needs no short wait
        follower = subprocess.Popen([*command, "run", "slow2", "--project", str(root)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_job_processing(root, 2)  # the runner runs it; `run` follows it
        os.kill(runner.pid, signal.SIGSTOP)
        follower.send_signal(signal.SIGINT)
        assert follower.stderr.readline() == "\n"
        assert follower.stderr.readline().startswith("Cancelling... (again to stop waiting)")
        asked = time.monotonic()
        if how == "second signal":
            follower.send_signal(signal.SIGTERM)
        assert follower.wait(timeout=20) == 1
        took = time.monotonic() - asked
        rest = follower.stderr.read()
        assert rest.strip() == ("kbc-tui: stopped waiting for job 2 (last known status: processing); "
                                "`kbc-tui job 2` shows how it ends"), rest
        assert "Traceback" not in follower.stdout.read()
        assert took < (5 if how == "second signal" else 6), took  # "second signal": not the 10 s wait
        if how == "no answer in time":
            assert took >= 1.4, took  # it did wait for the answer first
        os.kill(runner.pid, signal.SIGCONT)  # the runner answers again: the cancel asked for is carried out
        deadline = time.time() + 20
        while json.loads(kbc("job", "2", "--json", root=root).stdout)["status"] != "cancelled":
            assert time.time() < deadline, "the runner did not carry out the cancel asked for"
            time.sleep(0.2)
    finally:
        os.kill(runner.pid, signal.SIGCONT)
        runner.kill()
        runner.wait()
        if follower is not None:
            follower.kill()
            follower.wait()


@pytest.mark.sqlite_state("another program holding SQLite's write lock on .kbc/jobs.sqlite, and the runner lock")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_run_starts_up_ends_it_at_once_with_one_line(root, sig):
    """Another program holds a write lock on the job history: `kbc-tui run` waits to queue its job (SQLite's busy
    wait, 30 s, in C code). Ctrl+C or SIGTERM then ends it at once: one line, exit 130, no traceback, nothing
    queued, and the next run works."""
    import sqlite3

    from kbc_tui.engine.lock import RunnerLock

    assert kbc("run", "good", root=root).returncode == 0  # job 1; the history exists
    holder = sqlite3.connect(root / ".kbc" / "jobs.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    proc = subprocess.Popen([*KBC, "run", "good", "--project", str(root)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while RunnerLock(root / ".kbc" / "runner.lock").holder_pid() != proc.pid:  # it started; it now waits
            assert time.time() < deadline and proc.poll() is None, proc.poll()
            time.sleep(0.1)
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=40)
        took = time.monotonic() - sent
        stdout, stderr = proc.communicate()
    finally:
        proc.kill()
        holder.rollback()
        holder.close()
    assert code == 130, (code, stderr)
    assert stderr.strip() == "kbc-tui: interrupted while starting; no job was queued", stderr
    assert "Traceback" not in stdout
    assert took < 5, took  # not after SQLite's 30 s wait
    assert [j["id"] for j in json.loads(kbc("jobs", "--json", root=root).stdout)] == [1]
    again = kbc("run", "good", root=root)
    assert again.returncode == 0 and "Job 2 (good): success" in again.stdout, again.stdout + again.stderr
