"""The job state's contract (``kbc_tui.store.state.JobState``), run against both implementations: the SQLite
``JobHistory`` and the PostgreSQL ``PgJobState`` (issue 13). Whatever the engine, scheduler, notifier and UI rely
on — ordering, what comes back as None or False, epoch seconds vs datetimes, ids that only grow — holds for both.

The worker methods (and ``claim_job``'s worker / ``create_job``'s spec hash, and the claim refused while the
orchestration is processing) come to SQLite on another branch: their tests run for SQLite as soon as
``JobHistory`` has them, and are skipped with that reason until then."""

from __future__ import annotations

import inspect
import time
from array import array
from datetime import datetime, timedelta, timezone

import pytest

from kbc_tui.errors import StateError
from kbc_tui.model.job import JobStatus, LogLine, Notification, TaskRun, TaskStatus, Trigger
from kbc_tui.store.history import JobHistory
from kbc_tui.store.pg_state import PgJobState
from kbc_tui.store.state import FireRecord, JobState, WorkerInfo
from tests.helpers.pg import pg_database  # noqa: F401 - the fixture

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)

#: JobHistory has the worker methods and parameters (they come from another branch)
SQLITE_WORKERS = hasattr(JobHistory, "register_worker") and \
    "worker" in inspect.signature(JobHistory.claim_job).parameters
SQLITE_BUSY_CLAIM = SQLITE_WORKERS  # the claim refused while another job of the orchestration is processing


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def state(request, tmp_path):
    if request.param == "sqlite":
        opened = JobHistory(tmp_path / "jobs.sqlite")
    else:
        opened = PgJobState(request.getfixturevalue("pg_database"))
    yield opened
    opened.close()


def needs_sqlite_workers(state) -> None:
    if isinstance(state, JobHistory) and not SQLITE_WORKERS:
        pytest.skip("SQLite worker methods: other branch")


def line(job_id: int, text: str, *, level: str = "info", task: str | None = None, at: datetime = T0) -> LogLine:
    return LogLine(job_id, at, level, text, task)


# -- jobs ---------------------------------------------------------------------------------------------------------

def test_it_is_a_job_state_with_its_attributes(state) -> None:
    needs_sqlite_workers(state)  # JobHistory is a complete JobState once it has the worker methods
    assert isinstance(state, JobState)
    assert state.available is True
    assert state.shared is isinstance(state, PgJobState)
    assert str(state.path)


def test_a_job_goes_from_waiting_to_finished_and_reads_back_as_written(state) -> None:
    before = time.time()
    job = state.create_job("o", Trigger.MANUAL, "me@example.com")
    assert (job.orchestration, job.status, job.trigger, job.triggered_by) == \
        ("o", JobStatus.WAITING, Trigger.MANUAL, "me@example.com")
    assert job.created_at.tzinfo is not None and before - 1 <= job.created_at.timestamp() <= time.time() + 1
    again = state.job(job.id)
    assert (again.id, again.status, again.created_at, again.started_at, again.pid, again.tasks) == \
        (job.id, JobStatus.WAITING, job.created_at, None, None, [])
    started, finished = T0, T0 + timedelta(seconds=42.5)
    state.update_job(job.id, status=JobStatus.PROCESSING, started_at=started, pid=4242)
    state.update_job(job.id, status=JobStatus.SUCCESS, finished_at=finished, message="done")
    done = state.job(job.id, with_tasks=False)
    assert (done.status, done.started_at, done.finished_at, done.message, done.pid) == \
        (JobStatus.SUCCESS, started, finished, "done", 4242)
    assert done.duration_s == 42.5
    assert state.job(job.id + 1000) is None


def test_ids_grow_and_lists_are_newest_first_the_queue_oldest_first(state) -> None:
    a = state.create_job("a", Trigger.MANUAL, "me")
    b = state.create_job("b", Trigger.SCHEDULE, "scheduler")
    c = state.create_job("a", Trigger.MANUAL, "me")
    assert a.id < b.id < c.id
    assert [j.id for j in state.list_jobs()] == [c.id, b.id, a.id]
    assert [j.id for j in state.list_jobs("a")] == [c.id, a.id]
    assert [j.id for j in state.list_jobs(limit=2)] == [c.id, b.id]
    assert [j.id for j in state.list_jobs(before_id=c.id)] == [b.id, a.id]
    state.update_job(b.id, status=JobStatus.ERROR)
    assert [j.id for j in state.list_jobs(statuses=[JobStatus.ERROR])] == [b.id]
    assert [j.id for j in state.list_jobs(statuses=[JobStatus.WAITING, JobStatus.ERROR], before_id=b.id)] == [a.id]
    assert [j.id for j in state.waiting_jobs()] == [a.id, c.id]
    assert state.list_jobs("nobody") == [] and state.list_jobs(statuses=[]) == []


def test_last_jobs_are_the_latest_of_each_orchestration(state) -> None:
    a1 = state.create_job("a", Trigger.MANUAL, "me")
    b1 = state.create_job("b", Trigger.MANUAL, "me")
    a2 = state.create_job("a", Trigger.MANUAL, "me")
    assert {k: j.id for k, j in state.last_jobs().items()} == {"a": a2.id, "b": b1.id}
    assert {k: j.id for k, j in state.last_jobs(["b", "missing", "a"]).items()} == {"a": a2.id, "b": b1.id}
    assert state.last_jobs([]) == {}
    assert a1.id < a2.id


def test_jobs_updated_since_a_moment_are_the_ones_changed_after_it(state) -> None:
    a = state.create_job("a", Trigger.MANUAL, "me")
    b = state.create_job("b", Trigger.MANUAL, "me")
    time.sleep(0.05)
    mark = time.time()
    time.sleep(0.05)
    assert state.jobs_updated_since(mark) == []
    state.update_job(b.id, message="changed")
    assert [j.id for j in state.jobs_updated_since(mark)] == [b.id]
    state.create_task_runs([TaskRun(a.id, 0, 0, "c", "x")])
    state.update_task(TaskRun(a.id, 0, 0, "c", "x", TaskStatus.PROCESSING, T0))  # a task change touches its job
    assert [j.id for j in state.jobs_updated_since(mark)] == [a.id, b.id]
    assert len(state.jobs_updated_since(mark - 3600)) == 2


def test_cancel_requests_and_average_duration(state) -> None:
    a = state.create_job("o", Trigger.MANUAL, "me")
    b = state.create_job("o", Trigger.MANUAL, "me")
    assert state.cancel_requested([a.id, b.id]) == set() and state.cancel_requested([]) == set()
    state.request_cancel(b.id)
    assert state.cancel_requested([a.id, b.id]) == {b.id}
    assert state.average_duration("o") is None
    for seconds in (10, 20, 60):
        job = state.create_job("o", Trigger.MANUAL, "me")
        state.update_job(job.id, status=JobStatus.SUCCESS, started_at=T0, finished_at=T0 + timedelta(seconds=seconds))
    failed = state.create_job("o", Trigger.MANUAL, "me")
    state.update_job(failed.id, status=JobStatus.ERROR, started_at=T0, finished_at=T0 + timedelta(hours=1))
    assert state.average_duration("o") == pytest.approx(30.0)
    assert state.average_duration("o", n=2) == pytest.approx(40.0)  # the last two successful ones
    assert isinstance(state.average_duration("o"), float)


def test_a_job_is_claimed_once_and_only_a_waiting_one_is_cancelled_this_way(state) -> None:
    a = state.create_job("o", Trigger.MANUAL, "me")
    b = state.create_job("p", Trigger.MANUAL, "me")
    assert state.claim_job(a.id, 4242) is True
    assert state.claim_job(a.id, 4243) is False
    assert state.cancel_waiting(a.id, "no") is False
    job = state.job(a.id)
    assert (job.status, job.pid) == (JobStatus.PROCESSING, 4242)
    assert state.cancel_waiting(b.id, "cancelled before it started") is True
    job = state.job(b.id)
    assert (job.status, job.message) == (JobStatus.CANCELLED, "cancelled before it started")
    assert job.finished_at is not None
    assert state.claim_job(b.id, 1) is False and state.cancel_waiting(b.id, "again") is False
    assert state.claim_job(a.id + 1000, 1) is False  # no such job


def test_no_second_job_of_an_orchestration_is_claimed_while_one_is_processing(state) -> None:
    if isinstance(state, JobHistory) and not SQLITE_BUSY_CLAIM:
        pytest.skip("SQLite worker methods: other branch")
    a = state.create_job("o", Trigger.MANUAL, "me")
    b = state.create_job("o", Trigger.MANUAL, "me")
    other = state.create_job("p", Trigger.MANUAL, "me")
    assert state.claim_job(a.id, 1) is True
    assert state.claim_job(b.id, 2) is False  # "o" is busy: b stays waiting
    assert state.job(b.id).status is JobStatus.WAITING
    assert state.claim_job(other.id, 3) is True  # another orchestration is not held up
    state.update_job(a.id, status=JobStatus.SUCCESS, finished_at=T0)
    assert state.claim_job(b.id, 2) is True


def test_claim_records_the_worker_and_create_job_the_spec_hash(state) -> None:
    needs_sqlite_workers(state)
    job = state.create_job("o", Trigger.MANUAL, "me", spec_hash="sha-1")
    assert job.spec_hash == "sha-1" and state.job(job.id).spec_hash == "sha-1"
    assert state.create_job("o", Trigger.MANUAL, "me").spec_hash is None
    assert state.claim_job(job.id, 77, "host-a:77") is True
    claimed = state.job(job.id)
    assert (claimed.pid, claimed.worker) == (77, "host-a:77")


def test_retention_keeps_the_newest_and_never_an_unfinished_job(state) -> None:
    jobs = [state.create_job("o", Trigger.MANUAL, "me") for _ in range(6)]
    other = state.create_job("p", Trigger.MANUAL, "me")
    for job in jobs[1:]:
        state.update_job(job.id, status=JobStatus.SUCCESS, finished_at=T0)
    state.update_job(other.id, status=JobStatus.SUCCESS, finished_at=T0)
    old = jobs[1]
    state.create_task_runs([TaskRun(old.id, 0, 0, "c", "x")])
    state.add_log([line(old.id, "old line")])
    state.add_notification(Notification(old.id, "success", ["a@b.c"], "s", "t", "h", status="sent"))
    state.add_notification(Notification(old.id, "error", ["a@b.c"], "s", "t", "h"))  # pending: kept
    assert state.apply_retention("o", keep=3) == 2  # jobs[1] and jobs[2]; jobs[0] is still waiting
    assert [j.id for j in state.list_jobs("o")] == [j.id for j in reversed(jobs[3:])] + [jobs[0].id]
    assert state.job(old.id) is None and state.task_runs(old.id) == [] and state.log(old.id) == []
    assert [n.event for n in state.notifications(job_id=old.id)] == ["error"]
    assert state.job(other.id) is not None
    assert state.apply_retention("o", keep=3) == 0


# -- task runs ----------------------------------------------------------------------------------------------------

def test_task_runs_are_recorded_and_updated_in_order(state) -> None:
    job = state.create_job("o", Trigger.MANUAL, "me")
    runs = [TaskRun(job.id, 1, 1, "c", "second"), TaskRun(job.id, 0, 0, "c", "first"),
            TaskRun(job.id, 1, 2, "d", "third", status=TaskStatus.SKIPPED, message="inactive")]
    state.create_task_runs(runs)
    assert [(r.index, r.phase, r.config, r.status, r.message) for r in state.task_runs(job.id)] == \
        [(0, 0, "first", TaskStatus.WAITING, ""), (1, 1, "second", TaskStatus.WAITING, ""),
         (2, 1, "third", TaskStatus.SKIPPED, "inactive")]
    run = runs[1]
    run.status, run.started_at, run.finished_at, run.rows, run.message, run.attempt = \
        TaskStatus.SUCCESS, T0, T0 + timedelta(seconds=3), 12_000_000_000, "ok", 2
    state.update_task(run)
    got = state.job(job.id).tasks[0]
    assert (got.status, got.started_at, got.finished_at, got.rows, got.message, got.attempt, got.duration_s) == \
        (TaskStatus.SUCCESS, T0, T0 + timedelta(seconds=3), 12_000_000_000, "ok", 2, 3.0)
    assert state.task_runs(job.id + 1000) == []


# -- log ----------------------------------------------------------------------------------------------------------

def test_log_lines_read_back_in_order_with_growing_ids(state) -> None:
    a = state.create_job("a", Trigger.MANUAL, "me")
    b = state.create_job("b", Trigger.MANUAL, "me")
    assert state.max_log_id() == 0
    state.add_log([])
    state.add_log([line(a.id, "a1", task="c/x"), line(b.id, "b1"), line(a.id, "a2", level="error", task="c/y")])
    state.add_log([line(a.id, f"a{i}", task="c/x", at=T0 + timedelta(seconds=i)) for i in range(3, 8)])
    lines = state.log(a.id)
    assert [ln.text for ln in lines] == ["a1", "a2", "a3", "a4", "a5", "a6", "a7"]
    ids = [ln.id for ln in lines]
    assert ids == sorted(ids) and len(set(ids)) == 7
    assert (lines[1].level, lines[1].task, lines[1].job_id, lines[1].time) == ("error", "c/y", a.id, T0)
    assert lines[4].time == T0 + timedelta(seconds=5)
    assert [ln.text for ln in state.log(a.id, after_id=ids[4])] == ["a6", "a7"]
    assert [ln.text for ln in state.log(a.id, after_id=ids[0], limit=2)] == ["a2", "a3"]
    assert state.max_log_id() == ids[-1]
    assert [ln.text for ln in state.log_tail(a.id, n=2)] == ["a6", "a7"]
    assert [ln.text for ln in state.log_tail(a.id, task="c/y")] == ["a2"]
    assert [ln.text for ln in state.log_tail(a.id, task="c/none", n=1)] == ["a7"]  # no lines of it: the job's
    everything = state.log_since(0)
    assert [ln.text for ln in everything] == ["a1", "b1", "a2", "a3", "a4", "a5", "a6", "a7"]
    assert [ln.text for ln in state.log_since(everything[0].id, limit=2)] == ["b1", "a2"]
    assert [ln.text for ln in state.log_since(0, upto=everything[2].id)] == ["a1", "b1", "a2"]
    assert [ln.text for ln in state.log_since(0, exclude_jobs=[a.id])] == ["b1"]
    assert state.log_since(everything[-1].id) == []


def test_log_steps_counts_and_windows(state) -> None:
    job = state.create_job("o", Trigger.MANUAL, "me")
    other = state.create_job("p", Trigger.MANUAL, "me")
    state.add_log([line(job.id, "x0"), line(other.id, "other"), *(line(job.id, f"x{i}") for i in range(1, 10))])
    ids = [ln.id for ln in state.log(job.id)]
    assert state.log_step(job.id, ids[0], 0) == ids[0]
    assert state.log_step(job.id, ids[0] + 1, 0) == ids[1]  # the first line with an id >= it (skips "other")
    assert state.log_step(job.id, ids[2], 3) == ids[5]
    assert state.log_step(job.id, ids[2], 100) is None
    assert state.log_count(job.id, ids[0]) == 10
    assert state.log_count(job.id, ids[3], before_id=ids[6]) == 3
    assert [ln.text for ln in state.log_window(job.id, ids[2], skip=2, limit=3)] == ["x4", "x5", "x6"]
    assert state.log_window(job.id, ids[9] + 1, skip=0, limit=5) == []


def test_search_log_matches_literally_and_ignores_ascii_case(state) -> None:
    job = state.create_job("o", Trigger.MANUAL, "me")
    texts = ["100% done", "100 percent", "a_b c", "axb c", r"back\slash", "back-slash", "ÉCOLE", "école",
             "Loaded ROWS", "nothing"]
    state.add_log([line(job.id, t) for t in texts] + [line(job.id, "warned", level="WARNING")])
    ids = [ln.id for ln in state.log(job.id)]

    def found(needle: str) -> list[str]:
        hits = state.search_log(job.id, needle)
        assert isinstance(hits, array)
        return [(texts + ["warned"])[ids.index(i)] for i in hits]

    assert found("0%") == ["100% done"]
    assert found("a_b") == ["a_b c"]
    assert found("k\\s") == [r"back\slash"]
    assert found("loaded rows") == ["Loaded ROWS"]
    assert found("école") == ["école"]  # ASCII letters only fold (as SQLite's LIKE)
    assert found("warning") == ["warned"]  # the level counts too
    assert found("absent") == []
    assert found("OLE") == ["ÉCOLE", "école"]


# -- notification outbox -------------------------------------------------------------------------------------------

def test_notifications_are_queued_once_per_job_and_event(state) -> None:
    job = state.create_job("o", Trigger.MANUAL, "me")
    other = state.create_job("o", Trigger.MANUAL, "me")
    note = Notification(job.id, "error", ["a@b.c", "d@e.f"], "subj", "text", "<p>html</p>", next_try=100.0)
    first = state.add_notification(note)
    assert isinstance(first, int)
    assert state.add_notification(note) is None
    second = state.add_notification(Notification(job.id, "processing", ["a@b.c"], "s", "t", "h", next_try=50.0))
    third = state.add_notification(Notification(other.id, "error", ["a@b.c"], "s", "t", "h", next_try=200.0))
    assert first < second < third
    got = state.notifications(job_id=job.id)
    assert [(n.id, n.event, n.recipients, n.subject, n.body_html, n.status, n.attempts, n.next_try) for n in got] == \
        [(first, "error", ["a@b.c", "d@e.f"], "subj", "<p>html</p>", "pending", 0, 100.0),
         (second, "processing", ["a@b.c"], "s", "h", "pending", 0, 50.0)]
    assert [n.id for n in state.notifications(due_before=150.0)] == [first, second]
    assert [n.id for n in state.notifications()] == [first, second, third]
    assert state.next_notification_due() == 50.0
    assert state.next_notification_due(exclude=[second, None]) == 100.0
    assert state.next_notification_due(only=[third]) == 200.0  # a worker waits for its own e-mails' retries only
    assert state.next_notification_due(exclude=[first], only={first, third, None}) == 200.0
    assert state.next_notification_due(only=[]) is None
    sent = got[1]
    sent.status, sent.attempts, sent.last_error = "sent", 1, ""
    state.update_notification(sent)
    failing = got[0]
    failing.attempts, failing.next_try, failing.last_error = 2, 400.0, "smtp down"
    state.update_notification(failing)
    assert [(n.id, n.attempts, n.next_try, n.last_error) for n in state.notifications(due_before=1000.0)] == \
        [(first, 2, 400.0, "smtp down"), (third, 0, 200.0, "")]
    assert state.next_notification_due(exclude=[first, third]) is None


# -- component state ----------------------------------------------------------------------------------------------

def test_component_state_round_trips_as_json(state) -> None:
    assert state.component_state("ex", "cfg") == {}
    saved = {"last": "2026-01-05T09:00:00", "n": 12, "x": 1.5, "nested": {"list": [1, "two", None, True]},
             "unicode": "žluťoučký kůň", "nul": "a\x00b"}
    state.save_component_state("ex", "cfg", saved)
    assert state.component_state("ex", "cfg") == saved
    state.save_component_state("ex", "cfg", {"replaced": True})
    assert state.component_state("ex", "cfg") == {"replaced": True}
    state.save_component_state("ex", "other", {"when": T0})  # not JSON: saved as its text
    assert state.component_state("ex", "other") == {"when": str(T0)}
    assert state.component_state("ex", "cfg") == {"replaced": True}


# -- the scheduler ------------------------------------------------------------------------------------------------

def test_checked_until_starts_once_and_only_moves_forward(state) -> None:
    assert state.checked_until() == {}
    state.start_checked_until("o", T0)
    state.start_checked_until("o", T0 + timedelta(hours=1))
    state.advance_checked_until("*", T0 + timedelta(hours=2))
    state.advance_checked_until("*", T0 + timedelta(hours=1))
    state.advance_checked_until("o", T0 + timedelta(minutes=5))
    assert state.checked_until() == {"o": T0 + timedelta(minutes=5), "*": T0 + timedelta(hours=2)}


def test_a_fire_is_recorded_once_and_enqueues_or_is_skipped_while_busy(state) -> None:
    fire = T0 + timedelta(minutes=5)
    assert not state.fire_recorded("o", fire)
    recorded, busy, job = state.record_fire("o", fire, T0)
    assert (recorded, busy) == (True, None)
    assert (job.orchestration, job.status, job.trigger, job.triggered_by) == \
        ("o", JobStatus.WAITING, Trigger.SCHEDULE, "scheduler")
    assert state.job(job.id).status is JobStatus.WAITING
    assert state.record_fire("o", fire, T0) == FireRecord(False, job.id, None)
    later = fire + timedelta(minutes=5)
    assert state.record_fire("o", later, T0) == FireRecord(True, job.id, None)
    assert state.fire_recorded("o", fire) and state.fire_recorded("o", later)
    assert not state.fire_recorded("p", fire)
    assert state.fires("o") == [(fire, "enqueued", job.id), (later, "skipped", job.id)]
    assert state.fires("p") == []
    state.update_job(job.id, status=JobStatus.SUCCESS, finished_at=T0)
    third = later + timedelta(minutes=5)
    recorded, busy, new = state.record_fire("o", third, T0)
    assert recorded and busy is None and new.id > job.id
    assert [j.id for j in state.waiting_jobs()] == [new.id]


def test_a_fire_keeps_the_orchestrations_spec_hash(state) -> None:
    needs_sqlite_workers(state)
    _, _, job = state.record_fire("o", T0, T0, spec_hash="sha-2")
    assert job.spec_hash == "sha-2" and state.job(job.id).spec_hash == "sha-2"


# -- workers -------------------------------------------------------------------------------------------------------

def test_a_worker_registers_beats_and_unregisters(state) -> None:
    needs_sqlite_workers(state)
    assert state.workers() == []
    state.register_worker("w2", "host-b", 22, 30)
    state.register_worker("w1", "host-a", 11, 30)
    workers = state.workers()
    assert [(w.name, w.host, w.pid) for w in workers] == [("w1", "host-a", 11), ("w2", "host-b", 22)]
    assert all(isinstance(w, WorkerInfo) and w.started_at.tzinfo is not None for w in workers)
    assert abs(workers[0].beat_at.timestamp() - time.time()) < 60  # the server's clock, near this one
    first = workers[0].beat_at
    time.sleep(0.05)
    state.heartbeat("w1")
    assert state.workers()[0].beat_at > first
    state.unregister_worker("w2")
    assert [w.name for w in state.workers()] == ["w1"]


def test_a_live_workers_name_is_refused_with_its_host_and_pid_a_dead_ones_taken_over(state) -> None:
    needs_sqlite_workers(state)
    state.register_worker("w", "host-a", 11, 30)
    with pytest.raises(StateError) as refused:
        state.register_worker("w", "host-b", 22, 30)
    assert refused.value.kind == "worker"
    assert "host-a" in str(refused.value) and "11" in str(refused.value)
    assert [(w.host, w.pid) for w in state.workers()] == [("host-a", 11)]
    time.sleep(1.2)
    state.register_worker("w", "host-b", 22, 1)  # host-a has not beaten for over a second: presumed dead
    assert [(w.host, w.pid) for w in state.workers()] == [("host-b", 22)]


def test_stale_jobs_are_those_whose_worker_stopped_beating_or_is_gone(state) -> None:
    needs_sqlite_workers(state)
    state.register_worker("alive", "h", 1, 30)
    state.register_worker("quiet", "h", 2, 30)
    jobs = [state.create_job(o, Trigger.MANUAL, "me") for o in ("a", "b", "c", "d")]
    assert state.claim_job(jobs[0].id, 1, "alive")
    assert state.claim_job(jobs[1].id, 2, "quiet")
    assert state.claim_job(jobs[2].id, 3, "never-registered")
    # jobs[3] stays waiting: never stale
    time.sleep(1.2)
    state.heartbeat("alive")
    assert [j.id for j in state.stale_jobs(1.0)] == [jobs[1].id, jobs[2].id]
    assert [j.id for j in state.stale_jobs(30)] == [jobs[2].id]
    state.unregister_worker("alive")
    assert [j.id for j in state.stale_jobs(30)] == [jobs[0].id, jobs[2].id]
    stale = state.stale_jobs(30)[0]
    assert (stale.status, stale.worker) == (JobStatus.PROCESSING, "alive")


def test_terminate_job_ends_a_processing_job_once_with_its_tasks_and_a_log_line(state) -> None:
    needs_sqlite_workers(state)
    job = state.create_job("o", Trigger.MANUAL, "me")
    state.create_task_runs([TaskRun(job.id, 0, 0, "c", "done"), TaskRun(job.id, 0, 1, "c", "running"),
                            TaskRun(job.id, 1, 2, "c", "next")])
    assert state.claim_job(job.id, 5, "w")
    state.update_task(TaskRun(job.id, 0, 0, "c", "done", TaskStatus.SUCCESS, T0, T0, message="ok"))
    state.update_task(TaskRun(job.id, 0, 1, "c", "running", TaskStatus.PROCESSING, T0))
    end = T0 + timedelta(minutes=1)
    ended = state.terminate_job(job.id, "terminated: its worker w stopped", end)
    assert (ended.id, ended.status, ended.message, ended.finished_at) == \
        (job.id, JobStatus.TERMINATED, "terminated: its worker w stopped", end)
    assert [(t.status, t.message) for t in state.task_runs(job.id)][0] == (TaskStatus.SUCCESS, "ok")
    assert [t.status for t in state.task_runs(job.id)] == \
        [TaskStatus.SUCCESS, TaskStatus.TERMINATED, TaskStatus.SKIPPED]
    assert all(t.message for t in state.task_runs(job.id)[1:])
    assert [(ln.level, ln.text) for ln in state.log(job.id)] == \
        [("error", f"Job {job.id} terminated: its worker w stopped")]
    assert state.job(job.id).status is JobStatus.TERMINATED
    assert state.terminate_job(job.id, "again", end) is None  # another worker ended it first
    assert len(state.log(job.id)) == 1
    waiting = state.create_job("p", Trigger.MANUAL, "me")
    assert state.terminate_job(waiting.id, "no", end) is None
    assert state.job(waiting.id).status is JobStatus.WAITING
