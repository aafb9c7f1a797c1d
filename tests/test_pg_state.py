"""The job state in PostgreSQL (``PgJobState``, issue 13) where it differs from SQLite: many processes on their own
connections claim jobs and record fires at once, and the server can be absent, refuse, be newer, or drop the
connection. (What both implementations share is in ``test_state_contract.py``.)"""

from __future__ import annotations

import multiprocessing
import queue
import time
from datetime import datetime, timezone

import psycopg
import pytest

from kbc_tui.errors import StateError
from kbc_tui.model.job import JobStatus, LogLine, Trigger
from kbc_tui.store.pg_state import SCHEMA_VERSION, PgJobState
from tests.helpers.pg import admin_conninfo, claim_loop, fire_once, open_state, pg_database  # noqa: F401

pytestmark = pytest.mark.services

SPAWN = multiprocessing.get_context("spawn")


def collect(results, n: int, timeout: float = 120) -> list:
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        out.append(results.get(timeout=max(0.1, deadline - time.monotonic())))
    return out


def run_racers(target, args_of, n: int) -> list:
    start, results = SPAWN.Event(), SPAWN.Queue()
    procs = [SPAWN.Process(target=target, args=(*args_of(i), start, results)) for i in range(n)]
    for p in procs:
        p.start()
    time.sleep(0.5)
    start.set()
    try:
        return collect(results, n)
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()


def tables(url: str) -> dict[str, int]:
    """Every table of the database and its row count (what "untouched" compares)."""
    with psycopg.connect(admin_conninfo(url), autocommit=True) as conn:
        names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


# -- processes at once --------------------------------------------------------------------------------------------

def test_four_processes_claim_fifty_jobs_each_once_never_two_of_an_orchestration_at_once(pg_database) -> None:
    state = PgJobState(pg_database)
    jobs = [state.create_job(f"orch-{i % 5}", Trigger.MANUAL, "me") for i in range(50)]
    results = run_racers(claim_loop, lambda i: (pg_database, f"w{i}"), 4)
    assert [r[2] for r in results] == [None] * 4
    claims = [c for _, claimed, _ in results for c in claimed]
    assert sorted(c[0] for c in claims) == sorted(j.id for j in jobs)  # every job claimed exactly once
    assert all(c[4] == [c[0]] for c in claims)  # when claimed, the only processing job of its orchestration
    for orch in {c[1] for c in claims}:  # and its time held never overlaps another of the orchestration
        held = sorted((c[2], c[3]) for c in claims if c[1] == orch)
        assert all(a[1] <= b[0] for a, b in zip(held, held[1:])), orch
    assert len({name for name, claimed, _ in results if claimed}) > 1  # they did race
    done = state.list_jobs(limit=100)
    assert {j.status for j in done} == {JobStatus.SUCCESS}
    assert {j.worker for j in done} == {j.message for j in done} and len(done) == 50  # claimed by who finished it
    state.close()


def test_four_processes_recording_one_fire_make_one_job(pg_database) -> None:
    moment = datetime(2026, 3, 1, 6, 0, tzinfo=timezone.utc)
    PgJobState(pg_database).close()  # the schema exists before the race (the race to make it is another test)
    results = run_racers(fire_once, lambda i: (pg_database, "nightly", moment.timestamp()), 4)
    assert [r[3] for r in results] == [None] * 4
    assert sorted(r[0] for r in results) == [False, False, False, True]
    job_id = next(r[2] for r in results if r[0])
    assert all(r[1] == job_id for r in results if not r[0])  # the others saw its job as the busy one
    state = PgJobState(pg_database)
    assert [j.id for j in state.list_jobs()] == [job_id]
    assert state.fires("nightly") == [(moment, "enqueued", job_id)]
    state.close()


def test_four_processes_opening_a_new_database_at_once_make_the_schema_once(pg_database) -> None:
    results = run_racers(open_state, lambda i: (pg_database,), 4)
    assert results == [None] * 4
    state = PgJobState(pg_database)
    assert state.schema_version() == SCHEMA_VERSION
    state.close()


def test_log_ids_read_by_a_watcher_never_skip_a_line_another_process_wrote(pg_database) -> None:
    """Two writers append at once while a reader follows ``log_since``: it sees every line once, in id order."""
    import threading

    writers = [PgJobState(pg_database) for _ in range(2)]
    reader = PgJobState(pg_database)
    job = writers[0].create_job("o", Trigger.MANUAL, "me")
    now = datetime.now(timezone.utc)

    def write(state, tag):
        for i in range(200):
            state.add_log([LogLine(job.id, now, "info", f"{tag}{i}-{k}") for k in range(3)])

    threads = [threading.Thread(target=write, args=(w, t)) for w, t in zip(writers, "ab")]
    for t in threads:
        t.start()
    seen, last = [], 0
    while any(t.is_alive() for t in threads) or last < reader.max_log_id():
        for ln in reader.log_since(last):
            seen.append(ln.id)
            last = ln.id
    assert len(seen) == 1200 and seen == sorted(set(seen))
    for s in (*writers, reader):
        s.close()


# -- the server absent, refusing, newer or dropping the connection ---------------------------------------------------

def test_an_unreachable_server_is_said_in_words_within_seconds() -> None:
    began = time.monotonic()
    with pytest.raises(StateError) as failed:
        PgJobState("postgresql+psycopg://kbc@127.0.0.1:1/kbc", password="s3cret-pw")
    assert time.monotonic() - began < 6
    message = str(failed.value)
    assert failed.value.kind == "unreachable"
    assert "cannot reach the job state at 127.0.0.1:1/kbc: connection refused" in message
    assert "[state] url" in message and "s3cret-pw" not in message


def test_a_missing_database_and_a_missing_user_are_named_with_what_to_create(pg_url) -> None:
    base = pg_url.rsplit("/", 1)[0]
    with pytest.raises(StateError) as no_db:
        PgJobState(f"{base}/kbc_no_such_db")
    assert no_db.value.kind == "missing"
    assert 'database "kbc_no_such_db" does not exist' in str(no_db.value)
    assert 'CREATE DATABASE "kbc_no_such_db"' in str(no_db.value)
    with pytest.raises(StateError) as no_role:
        PgJobState(pg_url.replace("postgres@", "kbc_no_such_role@"))
    assert no_role.value.kind == "auth"
    assert 'no user "kbc_no_such_role"' in str(no_role.value) and "CREATE ROLE" in str(no_role.value)


def test_a_newer_schema_is_refused_and_left_untouched(pg_database) -> None:
    state = PgJobState(pg_database)
    job = state.create_job("o", Trigger.MANUAL, "me")
    state.close()
    with psycopg.connect(admin_conninfo(pg_database), autocommit=True) as conn:
        conn.execute("UPDATE kbc_meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
        conn.execute("CREATE TABLE newer_things (x int)")
    before = tables(pg_database)
    with pytest.raises(StateError) as refused:
        PgJobState(pg_database)
    assert refused.value.kind == "newer"
    assert f"state version {SCHEMA_VERSION + 1}" in str(refused.value) and "upgrade kbc-tui" in str(refused.value)
    assert tables(pg_database) == before and before["jobs"] == 1 and job.id == 1


def test_tables_of_someone_else_are_not_taken_for_kbc_tuis(pg_database) -> None:
    with psycopg.connect(admin_conninfo(pg_database), autocommit=True) as conn:
        conn.execute("CREATE TABLE jobs (id int, what text)")
    with pytest.raises(StateError, match=r"has tables named like kbc-tui's \(jobs\)"):
        PgJobState(pg_database)
    assert tables(pg_database) == {"jobs": 0}


def test_a_dropped_connection_fails_one_call_in_words_and_the_next_connects_again(pg_database) -> None:
    state = PgJobState(pg_database)
    job = state.create_job("o", Trigger.MANUAL, "me")
    name = pg_database.rsplit("/", 1)[1]
    with psycopg.connect(admin_conninfo(pg_database), autocommit=True) as conn:
        killed = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                              "AND application_name = 'kbc-tui'", (name,)).fetchall()
    assert killed == [(True,)]
    with pytest.raises(StateError) as lost:
        state.job(job.id)
    assert lost.value.kind == "unreachable" and "lost the connection to the job state" in str(lost.value)
    assert state.job(job.id).id == job.id  # connected again
    assert state.claim_job(job.id, 1) is True
    state.close()
    with pytest.raises(StateError):
        state.job(job.id)  # closed: it does not connect again behind the caller's back


def test_the_path_names_the_state_without_the_password(pg_database) -> None:
    state = PgJobState(pg_database, password="pw-in-settings")
    assert state.path.startswith("postgresql://postgres@127.0.0.1:5432/kbc_test_")
    assert "pw-in-settings" not in state.path and "+psycopg" not in state.path
    assert state.shared is True and state.available is True
    state.close()


def test_text_postgresql_cannot_store_is_kept_readable(pg_database) -> None:
    """A component printing a NUL byte or undecodable bytes must not make the log write fail (SQLite takes them)."""
    state = PgJobState(pg_database)
    job = state.create_job("o", Trigger.MANUAL, "me")
    now = datetime.now(timezone.utc)
    state.add_log([LogLine(job.id, now, "info", "nul\x00here"), LogLine(job.id, now, "info", "bad\udcffbyte")])
    state.update_job(job.id, message="msg\x00")
    assert [ln.text for ln in state.log(job.id)] == ["nul\ufffdhere", "bad?byte"]
    assert state.job(job.id).message == "msg\ufffd"
    state.close()


def test_a_connection_dropped_inside_a_transaction_fails_that_call_and_the_next_claims(pg_database) -> None:
    state = PgJobState(pg_database)
    job = state.create_job("o", Trigger.MANUAL, "me")
    with psycopg.connect(admin_conninfo(pg_database), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND "
                     "application_name = 'kbc-tui'", (pg_database.rsplit("/", 1)[1],))
    with pytest.raises(StateError) as lost:
        state.claim_job(job.id, 1, "w")
    assert lost.value.kind == "unreachable"
    assert state.job(job.id).status is JobStatus.WAITING  # nothing half-done
    assert state.claim_job(job.id, 1, "w") is True
    state.close()


def test_a_claimer_stuck_mid_transaction_does_not_stall_the_others(pg_database) -> None:
    """Another process holding the orchestration's claim lock (frozen mid-claim): claiming says False at once
    (the engine claims on its event loop and looks again at its next poll) and succeeds once it is gone."""
    from kbc_tui.store import pg_state

    state = PgJobState(pg_database)
    job = state.create_job("o", Trigger.MANUAL, "me")
    other = state.create_job("p", Trigger.MANUAL, "me")
    with psycopg.connect(admin_conninfo(pg_database)) as stuck:
        stuck.execute("SELECT pg_advisory_xact_lock(%s, hashtext('o'))", (pg_state._LOCK_ORCHESTRATION,))
        began = time.monotonic()
        assert state.claim_job(job.id, 1, "w") is False
        assert time.monotonic() - began < 1
        assert state.claim_job(other.id, 1, "w") is True  # another orchestration: not held up
        stuck.rollback()
    assert state.claim_job(job.id, 1, "w") is True
    state.close()


def test_a_registered_workers_row_that_went_comes_back_with_its_next_heartbeat(pg_database) -> None:
    state = PgJobState(pg_database)
    state.register_worker("w", "host-a", 11, 30)
    job = state.create_job("o", Trigger.MANUAL, "me")
    assert state.claim_job(job.id, 11, "w")
    with psycopg.connect(admin_conninfo(pg_database), autocommit=True) as conn:
        conn.execute("DELETE FROM workers")
    assert [j.id for j in state.stale_jobs(30)] == [job.id]
    state.heartbeat("w")
    assert [(w.name, w.host, w.pid) for w in state.workers()] == [("w", "host-a", 11)]
    assert state.stale_jobs(30) == []
    state.unregister_worker("w")
    state.heartbeat("w")  # stopped cleanly: not brought back
    assert state.workers() == []
    state.close()


def test_a_schema_of_its_own_through_the_urls_options(pg_database) -> None:
    """``?options=-csearch_path%3Dkbc``: kbc-tui's tables go into that schema (a database shared with others)."""
    with psycopg.connect(admin_conninfo(pg_database), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA kbc")
        conn.execute("CREATE TABLE public.jobs (someone text)")  # another application's table of that name
    state = PgJobState(pg_database + "?options=-csearch_path%3Dkbc")
    job = state.create_job("o", Trigger.MANUAL, "me")
    assert state.job(job.id).orchestration == "o"
    state.close()
    with psycopg.connect(admin_conninfo(pg_database), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM kbc.jobs").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM public.jobs").fetchone()[0] == 0
        assert conn.execute("SELECT value FROM kbc.kbc_meta").fetchone()[0] == str(SCHEMA_VERSION)


def test_a_wrong_password_and_a_missing_one_are_told_apart_and_never_printed() -> None:
    from tests.helpers.pg import FakeLoginServer

    with FakeLoginServer("password") as server:
        url = f"postgresql+psycopg://kbc@127.0.0.1:{server.port}/kbc"
        with pytest.raises(StateError) as wrong:
            PgJobState(url, password="wrong-pw-123")
        assert server.passwords == ["wrong-pw-123"]  # it was sent, to the server only
        with pytest.raises(StateError) as missing:
            PgJobState(url)
    assert wrong.value.kind == missing.value.kind == "auth"
    assert f'PostgreSQL at 127.0.0.1:{server.port} refused the password of user "kbc"' in str(wrong.value)
    assert "[state] #password" in str(wrong.value) and "wrong-pw-123" not in str(wrong.value)
    assert 'asks for a password for user "kbc" and none is set' in str(missing.value)


def test_a_server_that_never_answers_is_given_up_on_after_the_connect_timeout() -> None:
    from tests.helpers.pg import FakeLoginServer

    with FakeLoginServer("silent") as server:
        began = time.monotonic()
        with pytest.raises(StateError) as silent:
            PgJobState(f"postgresql+psycopg://kbc@127.0.0.1:{server.port}/kbc", connect_timeout=2)
        took = time.monotonic() - began
    assert silent.value.kind == "unreachable" and "no answer within 2 s" in str(silent.value)
    assert 1.5 <= took < 6


def test_a_watcher_whose_clock_is_ahead_still_sees_another_machines_changes(pg_database, monkeypatch) -> None:
    """Changes are stamped by the server's clock and a watcher's "since" moved to it: a watcher on a machine 30 s
    ahead (polling with its own time minus a second, as the engine does) sees a change the other machine makes."""
    real = time.time
    writer = PgJobState(pg_database)
    job = writer.create_job("o", Trigger.MANUAL, "me")
    time.sleep(1.2)  # the watcher looks back a second: the creation is before that
    monkeypatch.setattr(time, "time", lambda: real() + 30)  # the watcher's machine
    watcher = PgJobState(pg_database)
    since = time.time() - 1.0
    assert watcher.jobs_updated_since(since) == []
    monkeypatch.setattr(time, "time", real)  # the writer's machine
    writer.update_job(job.id, status=JobStatus.PROCESSING)
    monkeypatch.setattr(time, "time", lambda: real() + 30)
    assert [j.id for j in watcher.jobs_updated_since(since)] == [job.id]
    assert watcher.jobs_updated_since(time.time() + 5) == []
    monkeypatch.setattr(time, "time", real)
    writer.close()
    watcher.close()


def test_threads_share_one_state(pg_database) -> None:
    """The engine calls the state from worker threads too: calls of many threads on one instance interleave
    safely (one connection, one call at a time), a search reads on a connection of its own meanwhile."""
    import threading

    state = PgJobState(pg_database)
    job = state.create_job("o", Trigger.MANUAL, "me")
    now = datetime.now(timezone.utc)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                state.add_log([LogLine(job.id, now, "info", f"t{n} line {i}")])
                state.update_job(job.id, message=f"t{n}")
                assert state.job(job.id, with_tasks=False).id == job.id
                if i % 10 == 0:
                    state.search_log(job.id, f"t{n} line")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert state.log_count(job.id, 0) == 300
    assert len(state.search_log(job.id, "t3 line")) == 50
    state.close()


def test_a_user_that_may_not_create_tables_is_told_what_to_grant(pg_database, unique) -> None:
    """PostgreSQL 15 and later: only the database's owner may create tables in its public schema."""
    role = f"kbc_limited_{unique}"
    with psycopg.connect(admin_conninfo(pg_database), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'REVOKE CREATE ON SCHEMA public FROM PUBLIC')
    try:
        with pytest.raises(StateError) as refused:
            PgJobState(pg_database.replace("postgres@", f"{role}@"))
        assert refused.value.kind == "permission"
        assert f'PostgreSQL user "{role}" may not do this' in str(refused.value)
        assert "ALTER DATABASE" in str(refused.value) and "OWNER TO" in str(refused.value)
        assert tables(pg_database) == {}
    finally:
        with psycopg.connect(admin_conninfo(pg_database), autocommit=True) as conn:
            conn.execute(f'DROP ROLE "{role}"')


def test_a_worker_presumed_dead_that_stops_later_leaves_its_successors_row(pg_database) -> None:
    """Worker A stalls past the timeout, B takes its name over; when A then stops cleanly, B's row must stay —
    without it B's jobs would look stale and be terminated by the others."""
    a, b = PgJobState(pg_database), PgJobState(pg_database)
    a.register_worker("w", "host-a", 11, 1)
    time.sleep(1.2)
    b.register_worker("w", "host-b", 22, 1)
    job = b.create_job("o", Trigger.MANUAL, "me")
    assert b.claim_job(job.id, 22, "w")
    a.heartbeat("w")  # A wakes up: it does not take the name back
    a.unregister_worker("w")  # and stops
    assert [(w.host, w.pid) for w in b.workers()] == [("host-b", 22)]
    assert b.stale_jobs(30) == []
    a.close()
    b.close()
