"""The job state's interface (``kbc_tui.store.state.JobState``, issue 13): the SQLite history and its read-only
and unavailable stand-ins all provide it, with the same signatures; the store's own methods keep the
semantics the engine and scheduler relied on when they wrote the SQL themselves."""

from __future__ import annotations

import inspect
from datetime import datetime, timedelta, timezone

import pytest

from kbc_tui.errors import StateError
from kbc_tui.model.job import JobStatus, Trigger
from kbc_tui.store.history import JobHistory
from kbc_tui.store.history_read_only import ReadOnlyHistory
from kbc_tui.store.history_unavailable import UnavailableHistory
from kbc_tui.store.pg_state import PgJobState
from kbc_tui.store.state import FireRecord, JobState

METHODS = sorted(n for n, v in vars(JobState).items() if inspect.isfunction(v) and not n.startswith("_"))
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def history(tmp_path):
    history = JobHistory(tmp_path / "jobs.sqlite")
    yield history
    history.close()


@pytest.mark.parametrize("cls", [JobHistory, ReadOnlyHistory, PgJobState])
@pytest.mark.parametrize("name", METHODS)
def test_the_history_classes_have_every_method_of_the_interface_with_its_signature(cls, name) -> None:
    ours, theirs = inspect.signature(getattr(cls, name)), inspect.signature(getattr(JobState, name))
    assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == \
        [(p.name, p.kind, p.default) for p in theirs.parameters.values()]


def test_all_three_are_job_states(history, tmp_path) -> None:
    assert isinstance(history, JobState)
    assert isinstance(ReadOnlyHistory(history.path, StateError("read-only", "readonly")), JobState)
    unavailable = UnavailableHistory(tmp_path / "x.sqlite", StateError("damaged", "damaged"))
    assert isinstance(unavailable, JobState)
    with pytest.raises(StateError, match="damaged"):
        unavailable.claim_job(1, 1)


def test_claim_and_cancel_take_only_a_waiting_job(history) -> None:
    a = history.create_job("o", Trigger.MANUAL, "me")
    b = history.create_job("o", Trigger.MANUAL, "me")
    assert history.claim_job(a.id, 4242) is True
    assert history.claim_job(a.id, 4243) is False  # claimed already: never twice
    assert history.cancel_waiting(a.id, "no") is False  # processing: not cancelled this way
    job = history.job(a.id)
    assert (job.status, job.pid) == (JobStatus.PROCESSING, 4242)
    assert history.cancel_waiting(b.id, "cancelled before it started") is True
    job = history.job(b.id)
    assert (job.status, job.message) == (JobStatus.CANCELLED, "cancelled before it started")
    assert job.finished_at is not None and history.claim_job(b.id, 1) is False


def test_a_fire_is_recorded_once_enqueues_its_job_and_is_skipped_while_the_orchestration_is_busy(history) -> None:
    fire = T0 + timedelta(minutes=5)
    assert not history.fire_recorded("o", fire)
    recorded, busy, job = history.record_fire("o", fire, T0)
    assert (recorded, busy) == (True, None)
    assert (job.orchestration, job.status, job.trigger, job.triggered_by) == \
        ("o", JobStatus.WAITING, Trigger.SCHEDULE, "scheduler")
    assert history.job(job.id).status is JobStatus.WAITING
    assert history.record_fire("o", fire, T0) == FireRecord(False, job.id, None)  # another scheduler's second try
    later = fire + timedelta(minutes=5)
    assert history.record_fire("o", later, T0) == FireRecord(True, job.id, None)
    assert history.fire_recorded("o", fire) and history.fire_recorded("o", later)
    assert history.fires("o") == [(fire, "enqueued", job.id), (later, "skipped", job.id)]
    assert [j.id for j in history.waiting_jobs()] == [job.id]


def test_a_fire_whose_job_cannot_be_written_is_not_recorded_and_fires_on_the_next_try(history) -> None:
    """Recording the fire and writing its job are one step: a failure in between (here the jobs table refuses
    the insert, as a full disk would) must not leave a fire recorded with no job — the run would be lost."""
    import sqlite3

    fire = T0 + timedelta(minutes=5)
    other = sqlite3.connect(history.path)
    other.execute("CREATE TRIGGER refuse BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); "
                  "END")
    other.commit()
    with pytest.raises(StateError):
        history.record_fire("o", fire, T0)
    assert not history.fire_recorded("o", fire) and history.fires("o") == []
    other.execute("DROP TRIGGER refuse")
    other.commit()
    other.close()
    recorded, busy, job = history.record_fire("o", fire, T0)
    assert recorded and busy is None and job is not None
    assert history.fires("o") == [(fire, "enqueued", job.id)]


def test_checked_until_starts_once_and_only_moves_forward(history) -> None:
    history.start_checked_until("o", T0)
    history.start_checked_until("o", T0 + timedelta(hours=1))  # seen already: kept
    history.advance_checked_until("*", T0 + timedelta(hours=2))
    history.advance_checked_until("*", T0 + timedelta(hours=1))  # never back
    assert history.checked_until() == {"o": T0, "*": T0 + timedelta(hours=2)}


def test_claim_refuses_a_second_job_of_an_orchestration_while_one_is_processing(history) -> None:
    a = history.create_job("o", Trigger.MANUAL, "me")
    b = history.create_job("o", Trigger.MANUAL, "me")
    other = history.create_job("p", Trigger.MANUAL, "me")
    assert history.claim_job(a.id, 1, worker="w1") is True
    assert history.claim_job(b.id, 2, worker="w2") is False  # another job of "o" is processing
    assert history.claim_job(other.id, 2, worker="w2") is True  # another orchestration: fine
    assert history.job(b.id).status is JobStatus.WAITING
    history.update_job(a.id, status=JobStatus.SUCCESS)
    assert history.claim_job(b.id, 2, worker="w2") is True
    assert history.job(b.id).worker == "w2"


def test_workers_register_beat_and_go(history) -> None:
    history.register_worker("w1", "host-a", 11, timeout=30)
    with pytest.raises(StateError) as caught:  # a live worker has that name
        history.register_worker("w1", "host-b", 12, timeout=30)
    assert caught.value.kind == "worker" and "host-a" in str(caught.value) and "11" in str(caught.value)
    history.register_worker("w1", "host-a", 11, timeout=30)  # the same process again: fine
    [w] = history.workers()
    assert (w.name, w.host, w.pid) == ("w1", "host-a", 11) and w.beat_at >= w.started_at
    history.heartbeat("w1")
    history.unregister_worker("w1")
    assert history.workers() == []


def test_stale_jobs_are_those_of_silent_or_unknown_workers(history) -> None:
    history.register_worker("alive", "h", 1, timeout=30)
    history.register_worker("silent", "h", 2, timeout=30)
    jobs = [history.create_job(o, Trigger.MANUAL, "me") for o in ("a", "b", "c")]
    for job, worker in zip(jobs, ("alive", "silent", "gone")):
        assert history.claim_job(job.id, 1, worker=worker)
    history.execute("UPDATE workers SET beat_at = beat_at - 100 WHERE name = 'silent'")
    assert [j.orchestration for j in history.stale_jobs(10)] == ["b", "c"]
    assert [j.orchestration for j in history.stale_jobs(1000)] == ["c"]


def test_terminate_job_ends_it_once_with_its_tasks_and_a_log_line(history) -> None:
    from kbc_tui.model.job import TaskRun, TaskStatus

    job = history.create_job("o", Trigger.MANUAL, "me")
    assert history.claim_job(job.id, 1, worker="w")
    runs = [TaskRun(job.id, 0, i, "sql-transformation", f"t{i}") for i in range(2)]
    history.create_task_runs(runs)
    runs[0].status = TaskStatus.PROCESSING
    history.update_task(runs[0])
    ended = history.terminate_job(job.id, "terminated: worker w stopped answering", T0)
    assert (ended.status, ended.message, ended.finished_at) == (
        JobStatus.TERMINATED, "terminated: worker w stopped answering", T0)
    assert [t.status for t in history.task_runs(job.id)] == [TaskStatus.TERMINATED, TaskStatus.SKIPPED]
    assert [ln.text for ln in history.log(job.id)] == [f"Job {job.id} terminated: worker w stopped answering"]
    assert history.terminate_job(job.id, "again", T0) is None  # no longer processing: another reaper was first
    assert len(history.log(job.id)) == 1
