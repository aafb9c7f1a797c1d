"""``kbc-tui state copy --to URL``: a project's SQLite history moves to an empty PostgreSQL job state with its job
ids, task runs, logs, outbox, component state and schedule records; a non-empty target, a running project or a
missing password variable are refused in words and nothing is copied."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from kbc_tui.engine.lock import RunnerLock
from kbc_tui.model.job import LogLine, Notification, TaskRun, Trigger
from kbc_tui.store.history import JobHistory
from kbc_tui.store.pg_state import PgJobState
from tests.helpers.cli import kbc, project_with_a_job
from tests.helpers.pg import pg_database  # noqa: F401

pytestmark = pytest.mark.services

FIRE = datetime(2026, 2, 1, 6, 0, tzinfo=timezone.utc)


def richer_history(root):
    """The history of a project that ran a job, then another (with task runs, log lines, an e-mail), the first
    one gone by retention (ids keep a gap), a component state, a fire and a schedule check."""
    history = JobHistory(root / ".kbc" / "jobs.sqlite")
    second = history.create_job("good", Trigger.MANUAL, "me")
    history.create_task_runs([TaskRun(second.id, 0, 0, "keboola.sql-transformation", "ok"),
                              TaskRun(second.id, 0, 1, "keboola.sql-transformation", "no", message="inactive")])
    history.add_log([LogLine(second.id, FIRE, "info", f"line {i} \u017e", "keboola.sql-transformation/ok")
                     for i in range(3)])
    history.update_job(second.id, status="success", started_at=FIRE, finished_at=FIRE)
    assert history.apply_retention("good", keep=1) == 1  # job 1 goes
    history.add_notification(Notification(second.id, "success", ["ops@example.com"], "s", "t", "<p>h</p>",
                                           next_try=5.0))
    history.save_component_state("ex", "cfg", {"last": 7, "\u017e": "\u00fc"})
    history.record_fire("good", FIRE, FIRE)
    history.start_checked_until("good", FIRE)
    history.close()


def test_the_history_is_copied_with_its_ids_and_the_sequences_continue_after_them(tmp_path, pg_database) -> None:
    root = project_with_a_job(tmp_path / "p")
    richer_history(root)
    source = JobHistory(root / ".kbc" / "jobs.sqlite")
    jobs = source.list_jobs(limit=100)
    logs = {j.id: source.log(j.id) for j in jobs}
    assert [j.id for j in jobs] == [3, 2] and len(logs[2]) == 3

    done = kbc("state", "copy", "--to", pg_database, root=root)
    assert done.returncode == 0, done.stderr
    assert "2 jobs, 2 task runs, 3 log lines, 1 e-mails, 1 component states, 1 schedule fires, 1 schedule " \
           "checks" in done.stdout
    assert "[state]" in done.stdout and pg_database in done.stdout

    state = PgJobState(pg_database)
    assert [(j.id, j.status, j.created_at, j.started_at) for j in state.list_jobs(limit=100)] == \
        [(j.id, j.status, j.created_at, j.started_at) for j in jobs]
    assert state.job(2).tasks == source.job(2).tasks and len(state.job(2).tasks) == 2
    for job_id, lines in logs.items():
        assert state.log(job_id) == lines  # ids, times, levels, texts
    assert [(n.id, n.recipients, n.next_try) for n in state.notifications(job_id=2)] == \
        [(n.id, n.recipients, n.next_try) for n in source.notifications(job_id=2)] != []
    assert state.component_state("ex", "cfg") == {"last": 7, "\u017e": "\u00fc"}
    assert state.fires("good") == source.fires("good") and state.checked_until() == source.checked_until()
    new = state.create_job("good", Trigger.MANUAL, "me")
    assert new.id == 4  # after the copied ids, not into them
    state.add_log([logs[2][0]])
    assert state.max_log_id() == source.max_log_id() + 1
    state.close()
    source.close()


def test_a_state_that_is_not_empty_is_refused_and_left_as_it_was(tmp_path, pg_database) -> None:
    root = project_with_a_job(tmp_path / "p")
    state = PgJobState(pg_database)
    mine = state.create_job("theirs", Trigger.MANUAL, "someone")
    done = kbc("state", "copy", "--to", pg_database, root=root)
    assert done.returncode == 1
    assert "is not empty" in done.stderr and "nothing was copied" in done.stderr
    assert [j.id for j in state.list_jobs()] == [mine.id]
    state.close()


def test_a_running_project_and_an_unset_password_variable_are_refused(tmp_path, pg_database, monkeypatch) -> None:
    root = project_with_a_job(tmp_path / "p")
    monkeypatch.delenv("KBC_TEST_NO_SUCH_VAR", raising=False)
    done = kbc("state", "copy", "--to", pg_database, "--password-env", "KBC_TEST_NO_SUCH_VAR", root=root)
    assert done.returncode == 1 and "KBC_TEST_NO_SUCH_VAR is not set" in done.stderr
    lock = RunnerLock(root / ".kbc" / "runner.lock")
    assert lock.try_acquire()
    try:
        done = kbc("state", "copy", "--to", pg_database, root=root)
    finally:
        lock.release()
    assert done.returncode == 1 and "is running jobs in this project" in done.stderr
    state = PgJobState(pg_database)
    assert state.list_jobs() == []
    state.close()


def test_the_password_comes_from_the_named_variable_and_is_never_printed(tmp_path, pg_database) -> None:
    root = project_with_a_job(tmp_path / "p")
    unreachable = "postgresql+psycopg://kbc@127.0.0.1:1/kbc"
    done = kbc("state", "copy", "--to", unreachable, "--password-env", "KBC_TEST_PW", root=root,
               env={"KBC_TEST_PW": "pw-never-shown"})
    assert done.returncode == 1
    assert "cannot reach the job state at 127.0.0.1:1/kbc: connection refused" in done.stderr
    assert "pw-never-shown" not in done.stderr + done.stdout
    done = kbc("state", "copy", "--to", pg_database, "--password-env", "KBC_TEST_PW", root=root,
               env={"KBC_TEST_PW": "any (trust auth)"})
    assert done.returncode == 0, done.stderr
    assert '"#password" = "env:KBC_TEST_PW"' in done.stdout


def test_rows_of_a_job_that_is_gone_are_left_out_not_a_reason_to_fail(tmp_path, pg_database) -> None:
    """An old history written without foreign keys can hold log lines of a deleted job."""
    import sqlite3

    root = project_with_a_job(tmp_path / "p")
    db = sqlite3.connect(root / ".kbc" / "jobs.sqlite")
    db.execute("INSERT INTO log_lines (job_id, time, level, task, text) VALUES (999, 0, 'info', NULL, 'orphan')")
    db.commit()
    db.close()
    done = kbc("state", "copy", "--to", pg_database, root=root)
    assert done.returncode == 0, done.stderr
    state = PgJobState(pg_database)
    assert state.log(999) == [] and state.log(1) != []
    state.close()
