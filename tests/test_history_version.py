"""The job history's layout is versioned: an older layout is brought up to date without losing a job, a newer
one (written by a newer kbc-tui) is refused in words and left untouched."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading

import pytest

from kbc_tui.errors import StateError
from kbc_tui.store.history import SCHEMA_VERSION, JobHistory
from tests.helpers.cli import kbc, project_with_a_job


@pytest.fixture
def root(tmp_path):
    return project_with_a_job(tmp_path / "p")


def version_of(path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def set_version(path, version: int) -> None:
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {version}")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def test_a_new_history_carries_the_current_version(tmp_path):
    path = tmp_path / ".kbc" / "jobs.sqlite"
    JobHistory(path).close()
    assert version_of(path) == SCHEMA_VERSION >= 1


def test_a_history_from_before_versions_is_brought_up_to_date_and_keeps_its_jobs(root):
    path = root / ".kbc" / "jobs.sqlite"
    set_version(path, 0)
    listed = kbc("jobs", "--json", root=root)
    assert listed.returncode == 0, listed.stderr
    assert [(j["id"], j["status"]) for j in json.loads(listed.stdout)] == [(1, "success")]
    assert version_of(path) == SCHEMA_VERSION
    assert kbc("run", "good", root=root).returncode == 0


def test_a_history_written_by_a_newer_kbc_tui_is_refused_in_words_and_left_alone(root):
    path = root / ".kbc" / "jobs.sqlite"
    set_version(path, SCHEMA_VERSION + 1)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    for args in (["jobs"], ["run", "good"], ["job", "1", "--json"]):
        out = kbc(*args, root=root)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr
        assert "newer kbc-tui" in out.stderr and "upgrade kbc-tui" in out.stderr, out.stderr
        assert f"history version {SCHEMA_VERSION + 1}" in out.stderr and str(path) in out.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert version_of(path) == SCHEMA_VERSION + 1


def test_the_refusal_is_a_state_error_of_its_own_kind(root):
    path = root / ".kbc" / "jobs.sqlite"
    set_version(path, 99)
    with pytest.raises(StateError) as caught:
        JobHistory(path)
    assert caught.value.kind == "newer"


def test_processes_opening_a_new_history_at_once_all_succeed(tmp_path):
    """Eight openers race on a file that does not exist yet: every one opens it, the layout is made once."""
    path = tmp_path / ".kbc" / "jobs.sqlite"
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def open_it():
        try:
            start.wait()
            history = JobHistory(path)
            history.execute("SELECT count(*) FROM jobs")
            history.close()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert version_of(path) == SCHEMA_VERSION


def test_a_version_1_history_is_brought_to_version_2_keeping_its_jobs(tmp_path):
    """Version 2 (issue 13) adds ``jobs.worker``, ``jobs.spec_hash`` and the ``workers`` table; a history written
    by a kbc-tui before it keeps every job, which then reads with no worker and no hash."""
    from kbc_tui.store.history import SCHEMA

    path = tmp_path / ".kbc" / "jobs.sqlite"
    path.parent.mkdir()
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    db.execute("INSERT INTO jobs (orchestration, status, trigger, triggered_by, created_at, updated_at) "
               "VALUES ('old', 'success', 'manual', 'me', 1.0, 1.0)")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    history = JobHistory(path)
    try:
        assert version_of(path) == SCHEMA_VERSION == 2
        [job] = history.list_jobs()
        assert (job.orchestration, job.status.value, job.worker, job.spec_hash) == ("old", "success", None, None)
        assert history.workers() == []
        new = history.create_job("old", job.trigger, "me", spec_hash="abc")
        assert history.claim_job(new.id, 7, worker="w1")
        assert (history.job(new.id).worker, history.job(new.id).spec_hash) == ("w1", "abc")
    finally:
        history.close()
