"""The notifier in a running engine, at the edges users meet: kbc.toml and orchestrations changed or broken while it
runs, manual runs by an unknown user, the SMTP password in an e-mail, the failing task's log in the e-mail, a
server refusing one recipient, the processing alert when it cannot be sent, prompt retries, what a stop says, and
failures of the job history or of a bug in sending that must never reach a job. Each kills mutants of
tools/mutation.py's notifier group."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time

import pytest


from kbc_tui.engine import Engine
from kbc_tui.engine.notifier import Notifier
from kbc_tui.errors import StateError
from kbc_tui.model.job import JobStatus, TaskStatus, Trigger
from tests.helpers.disk import disk_full_once
from tests.helpers.engines import engines, log_line, run_job  # noqa: F401 (engines: a fixture)
from tests.helpers.projects import ENDLESS, orchestration, project, sql_config
from tests.helpers.job_state import refusing_writes, state_of, usual_duration as record_usual_duration
from tests.servers.smtp import SmtpServer, free_port

LISTS = {"error": ["ops@example.com"], "success": ["boss@example.com"]}
LOGGER = "kbc_tui.engine.notifier"


def make_project(tmp_path, port: int, **smtp):
    root = project(tmp_path / "p", smtp={"host": "127.0.0.1", "port": port, "from": "kbc@example.com",
                                         "timeout_seconds": 3, **smtp})
    sql_config(root, "ok", "create table ok as select 1 as n;", ["ok"])
    sql_config(root, "bad", "create table broken as select * from no_such_table;", ["broken"])
    return root


async def wait_mail(server: SmtpServer, count: int, timeout: float = 15.0):
    return await asyncio.to_thread(server.wait_for, count, timeout)


async def until(predicate, timeout=15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


def usual_duration(engine, orch: str, seconds: float) -> None:
    """Three successful runs of ``seconds`` in the history: the processing alert's usual duration."""
    record_usual_duration(engine.history, orch, seconds)


async def running(engine, job_id) -> None:
    assert await until(lambda: any(t.status is TaskStatus.PROCESSING for t in engine.get_job(job_id).tasks))


# -- settings and orchestrations as they are now ---------------------------------------------------------------

async def test_kbc_toml_changed_while_running_is_used_and_a_broken_one_falls_back_to_what_was_loaded(tmp_path,
                                                                                                      engines):
    with SmtpServer() as loaded, SmtpServer() as moved:
        root = make_project(tmp_path, loaded.port)
        orchestration(root, "fine", [["ok"]], notifications=LISTS)
        engine = await engines(root)
        settings = root / "kbc.toml"
        good = settings.read_text()
        settings.write_text(good.replace(f"port = {loaded.port}", f"port = {moved.port}"))
        first = await run_job(engine, "fine")
        [mail] = await wait_mail(moved, 1)
        assert await until(lambda: [n.status for n in engine.notifications(first.id)] == ["sent"])
        settings.write_text(good.replace(f"port = {loaded.port}", f"port = {moved.port}") + "\n[[[ not toml\n")
        second = await run_job(engine, "fine")
        [fallback] = await wait_mail(loaded, 1)
    assert mail.subject == f"[kbc-tui] Success: fine — job {first.id}"
    assert fallback.subject == f"[kbc-tui] Success: fine — job {second.id}"
    assert len(moved.messages) == 1


async def test_an_orchestration_deleted_while_its_job_runs_still_alerts_as_loaded(tmp_path, engines):
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        sql_config(root, "endless", ENDLESS, ["t"])
        orchestration(root, "slow", [["endless"]], notifications=LISTS)
        engine = await engines(root)
        job = await engine.enqueue("slow", trigger=Trigger.SCHEDULE)
        await running(engine, job.id)
        (root / "orchestrations" / "slow.toml").unlink()
        await engine.cancel(job.id)
        await asyncio.wait_for(engine.wait(job.id), 30)
        [mail] = await wait_mail(server, 1)
    assert mail.recipients == ["ops@example.com"]
    assert f"job {job.id}" in mail.subject


async def test_the_date_of_an_e_mail_is_in_this_machine_s_time_zone(tmp_path, engines, monkeypatch):
    """A mail reader shows the Date header as written: in the zone of the machine that ran the job (UTC+3 here),
    not as "-0000" (UTC, zone unknown)."""
    monkeypatch.setenv("TZ", "XYZ-3")  # a POSIX zone string: UTC+3, no zone database needed
    time.tzset()
    try:
        with SmtpServer() as server:
            root = make_project(tmp_path, server.port)
            orchestration(root, "fine", [["ok"]], notifications=LISTS)
            engine = await engines(root)
            await run_job(engine, "fine")
            [mail] = await wait_mail(server, 1)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert mail.message["Date"].endswith(" +0300"), mail.message["Date"]
    assert email.utils.parsedate_tz(mail.message["Date"])[9] == 3 * 3600


# -- who is told ---------------------------------------------------------------------------------------------

async def test_a_manual_run_by_nobody_known_says_so_without_a_name_and_unlisted_events_say_nothing(tmp_path,
                                                                                                   engines):
    root = make_project(tmp_path, free_port())
    orchestration(root, "nightly", [["bad"]], notifications=LISTS)
    orchestration(root, "quiet", [["bad"]])
    engine = await engines(root)
    job = await run_job(engine, "nightly", trigger=Trigger.MANUAL, triggered_by="")
    quiet = await run_job(engine, "quiet", trigger=Trigger.MANUAL, triggered_by="")
    line = await log_line(engine, job.id, "No error e-mail sent")
    assert line is not None and line.text == (
        "No error e-mail sent: a manual run notifies only the user who ran it, and the e-mail address of that user "
        "is not known (set [user] email in kbc.toml or KBC_USER_EMAIL)")
    await asyncio.sleep(0.3)
    said = [ln.text for ln in engine.job_log(quiet.id) if "otification" in ln.text or "e-mail" in ln.text]
    assert said == [] and engine.history.notifications(job_id=quiet.id) == []


async def test_a_server_refusing_one_recipient_still_delivers_to_the_others_and_says_who(tmp_path, engines):
    with SmtpServer(refuse_recipients=("gone@example.com",)) as server:
        root = make_project(tmp_path, server.port)
        orchestration(root, "fine", [["ok"]],
                      notifications={"success": ["boss@example.com", "gone@example.com"]})
        engine = await engines(root)
        job = await run_job(engine, "fine")
        [mail] = await wait_mail(server, 1)
        refused = await log_line(engine, job.id, "was refused for")
        sent = await log_line(engine, job.id, "was sent to")
    assert mail.recipients == ["boss@example.com"]
    assert refused is not None and refused.level == "warning"
    assert refused.text == "The success e-mail was refused for gone@example.com: 550 5.1.1 no such mailbox here"
    assert sent is not None and sent.text == "The success e-mail was sent to boss@example.com"
    assert [n.status for n in engine.notifications(job.id)] == ["sent"]


# -- what the e-mail says ------------------------------------------------------------------------------------

async def test_the_smtp_password_is_masked_in_an_e_mail_that_echoes_it(tmp_path, engines, monkeypatch):
    secret = "pw-S3cret-4711"
    monkeypatch.setenv("KBC_TEST_SMTP_PW", secret)
    with SmtpServer(users={"kbc": secret}) as server:
        root = make_project(tmp_path, server.port, username="kbc", **{"#password": "env:KBC_TEST_SMTP_PW"})
        sql_config(root, "echo", f'create table t as select * from "{secret}";', ["t"])
        orchestration(root, "nightly", [["echo"]], notifications=LISTS)
        engine = await engines(root)
        job = await run_job(engine, "nightly")
        [mail] = await wait_mail(server, 1)
    assert job.status is JobStatus.ERROR and secret in job.message  # the job itself echoed it
    text, html = mail.body("plain"), mail.body("html")
    assert secret not in text + html + mail.subject
    assert "*****" in text and "*****" in html


async def test_the_e_mail_shows_the_failing_task_s_log_even_when_later_tasks_log_more(tmp_path, engines):
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        names = [f"t{i}" for i in range(25)]
        sql_config(root, "many", "".join(f"create table {n} as select 1 as x;" for n in names), names)
        orchestration(root, "soft", [[{"config": "bad", "continue_on_failure": True}], ["many"]],
                      notifications={"warning": ["warn@example.com"]})
        engine = await engines(root)
        job = await run_job(engine, "soft")
        [mail] = await wait_mail(server, 1)
    assert job.status is JobStatus.WARNING
    text = mail.body()
    tail = text[text.index("log lines of sql-transformation/bad:"):]
    assert "running 1 statement(s)" in tail
    assert "Output t" not in tail  # the later task's 25 output lines are not the failing task's log


# -- the processing alert ----------------------------------------------------------------------------------------

async def test_a_processing_alert_without_an_smtp_server_says_so_in_the_job_log(tmp_path, engines):
    root = project(tmp_path / "p")
    sql_config(root, "endless", ENDLESS, ["t"])
    orchestration(root, "slow", [["endless"]],
                  notifications={"processing": ["watch@example.com"], "processing_tolerance": 0})
    engine = await engines(root)
    usual_duration(engine, "slow", 0.3)
    job = await engine.enqueue("slow", trigger=Trigger.SCHEDULE)
    line = await log_line(engine, job.id, "No processing e-mail sent")
    await engine.cancel(job.id)
    await asyncio.wait_for(engine.wait(job.id), 30)
    assert line is not None and line.level == "warning"
    assert line.text.startswith("No processing e-mail sent to watch@example.com: no SMTP server is configured")


async def test_a_processing_alert_that_cannot_be_queued_says_so_and_the_job_runs_on(tmp_path, engines, monkeypatch,
                                                                                    caplog):
    caplog.set_level(logging.ERROR, logger=LOGGER)
    root = make_project(tmp_path, free_port())
    sql_config(root, "endless", ENDLESS, ["t"])
    orchestration(root, "slow", [["endless"]],
                  notifications={"processing": ["watch@example.com"], "processing_tolerance": 0})
    engine = await engines(root)
    usual_duration(engine, "slow", 0.3)

    def busy(note):
        raise StateError("database is locked", kind="busy")

    monkeypatch.setattr(engine.history, "add_notification", busy)
    job = await engine.enqueue("slow", trigger=Trigger.SCHEDULE)
    line = await log_line(engine, job.id, "processing alert was not sent")
    assert engine.get_job(job.id).status is JobStatus.PROCESSING
    await engine.cancel(job.id)
    await asyncio.wait_for(engine.wait(job.id), 30)
    assert line is not None and line.level == "error"
    assert line.text == "The processing alert was not sent: database is locked"
    assert any(r.getMessage() == f"processing alert of job {job.id} failed" and r.exc_info for r in caplog.records)


async def test_a_processing_alert_that_cannot_be_armed_never_stops_the_job(tmp_path, engines, monkeypatch, caplog):
    caplog.set_level(logging.ERROR, logger=LOGGER)
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        orchestration(root, "fine", [["ok"]], notifications={"processing": ["watch@example.com"], **LISTS})

        def busy(orch, n=20):
            raise StateError("database is locked", kind="busy")

        engine = await engines(root)
        monkeypatch.setattr(engine, "average_duration", busy)
        job = await run_job(engine, "fine")
        [mail] = await wait_mail(server, 1)
    assert job.status is JobStatus.SUCCESS and mail.recipients == ["boss@example.com"]
    assert any(r.getMessage() == f"cannot arm the processing alert of job {job.id}" for r in caplog.records)


async def test_a_job_that_ended_while_its_storage_closes_gets_no_still_running_alert(tmp_path, engines,
                                                                                      monkeypatch):
    """The job has ended (its status is recorded) but closing the storage file takes a while (a checkpoint of a big
    file): the processing alert falling due then is not sent for a job no longer running."""
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        orchestration(root, "fine", [["ok"]],
                      notifications={"processing": ["watch@example.com"], "processing_tolerance": 0, **LISTS})
        engine = await engines(root)
        usual_duration(engine, "fine", 0.6)
        real = engine.storage.release

        def slow_release():
            real()
            time.sleep(1.5)  # the alert falls due meanwhile

        monkeypatch.setattr(engine.storage, "release", slow_release)
        job = await run_job(engine, "fine")
        [mail] = await wait_mail(server, 1)
        await asyncio.sleep(0.3)
        assert len(server.messages) == 1
    assert job.status is JobStatus.SUCCESS
    assert mail.recipients == ["boss@example.com"] and mail.subject.startswith("[kbc-tui] Success")
    assert not [ln.text for ln in engine.job_log(job.id) if "processing alert" in ln.text]


async def test_a_job_whose_end_cannot_be_recorded_gets_its_error_e_mail_later_and_no_internal_error(
        tmp_path, engines, monkeypatch):
    """The history stops taking writes while a job retries its task: the job's end is not recorded (it still says
    processing), so nothing is sent then; once the history takes writes again the job is marked terminated and its
    error e-mail goes, with no "internal error" on the way."""
    from kbc_tui.engine import engine as engine_module

    monkeypatch.setattr(engine_module, "FAULT_RETRY_SECONDS", 0.3)
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        sql_config(root, "nope", "select nope;", ["x"])
        orchestration(root, "flaky", [[{"config": "nope", "retries": 1, "retry_delay_seconds": 1}]],
                      notifications=LISTS)
        engine = await engines(root)
        job = await engine.enqueue("flaky", trigger=Trigger.SCHEDULE)
        assert await log_line(engine, job.id, "retrying in")
        with refusing_writes(root, engine.history):  # as on a full disk, a file turned read-only, a standby
            assert await until(lambda: engine.problem is not None)
        [mail] = await wait_mail(server, 1)
        assert await until(lambda: engine.get_job(job.id).status.finished)
    assert mail.recipients == ["ops@example.com"] and f"job {job.id}" in mail.subject
    assert not [ln.text for ln in engine.job_log(job.id) if "internal error" in ln.text]


# -- sending -------------------------------------------------------------------------------------------------

async def test_retries_go_when_they_are_due_not_a_second_later(tmp_path, engines, monkeypatch):
    monkeypatch.setattr(Notifier, "retry_delays", (0.3, 0.3))
    root = make_project(tmp_path, free_port())  # nothing listens
    orchestration(root, "fine", [["ok"]], notifications=LISTS)
    engine = await engines(root)
    job = await run_job(engine, "fine")
    first = await log_line(engine, job.id, "attempt 1 of 3 failed")
    last = await log_line(engine, job.id, "attempt 3 of 3 failed")
    assert first is not None and last is not None
    took = (last.time - first.time).total_seconds()
    assert 0.6 <= took < 1.6, took  # two waits of 0.3 s


async def test_a_bug_while_sending_marks_the_e_mail_failed_and_says_so(tmp_path, engines, monkeypatch, caplog):
    caplog.set_level(logging.ERROR, logger=LOGGER)

    def broken(self, note, smtp):
        raise RuntimeError("bug in building the message")

    monkeypatch.setattr(Notifier, "_message", broken)
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        orchestration(root, "fine", [["ok"]], notifications=LISTS)
        engine = await engines(root)
        job = await run_job(engine, "fine")
        line = await log_line(engine, job.id, "was not sent")
        assert await until(lambda: [n.status for n in engine.notifications(job.id)] == ["failed"])
    assert job.status is JobStatus.SUCCESS
    assert line is not None and line.level == "error"
    assert line.text == ("The success e-mail to boss@example.com was not sent: internal error: bug in building the "
                         "message")
    [note] = engine.notifications(job.id)
    assert note.last_error == "internal error: bug in building the message"
    assert any(r.getMessage() == f"sending notification {note.id} failed" for r in caplog.records)


async def test_a_bug_while_preparing_the_e_mail_is_said_in_the_job_log(tmp_path, engines, monkeypatch, caplog):
    caplog.set_level(logging.ERROR, logger=LOGGER)
    root = make_project(tmp_path, free_port())
    orchestration(root, "fine", [["ok"]], notifications=LISTS)
    engine = await engines(root)

    def broken(*args, **kwargs):
        raise RuntimeError("bug reading the log")

    monkeypatch.setattr(engine.history, "log_tail", broken)
    job = await run_job(engine, "fine")
    line = await log_line(engine, job.id, "Notification not sent")
    assert job.status is JobStatus.SUCCESS
    assert line is not None and line.level == "error"
    assert line.text == "Notification not sent: internal error: bug reading the log"
    assert any(r.getMessage() == f"cannot prepare the notification of job {job.id}" for r in caplog.records)


async def test_an_outbox_that_cannot_be_read_or_recorded_is_logged_and_mail_still_goes(tmp_path, engines,
                                                                                       monkeypatch, caplog):
    caplog.set_level(logging.ERROR, logger=LOGGER)
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        orchestration(root, "fine", [["ok"]], notifications=LISTS)
        engine = await engines(root)
        real_due, real_update = engine.history.next_notification_due, engine.history.update_notification
        failures = {"due": 1, "update": 1}

        def due(*args, **kwargs):
            if failures["due"]:
                failures["due"] -= 1
                raise StateError("database is locked", kind="busy")
            return real_due(*args, **kwargs)

        def update(note):
            if failures["update"]:
                failures["update"] -= 1
                raise StateError("database is locked", kind="busy")
            return real_update(note)

        monkeypatch.setattr(engine.history, "next_notification_due", due)
        monkeypatch.setattr(engine.history, "update_notification", update)
        engine.notifier.wake()
        job = await run_job(engine, "fine")
        assert await wait_mail(server, 1)  # (sent once more if its sending could not be recorded)
        assert await until(lambda: failures == {"due": 0, "update": 0})
        assert await until(lambda: [n.status for n in engine.notifications(job.id)] == ["sent"])
    messages = [r.getMessage() for r in caplog.records]
    assert "notification outbox check failed" in messages
    assert any(m.startswith("cannot record notification ") for m in messages)


# -- stopping -------------------------------------------------------------------------------------------------

async def test_a_stop_that_cannot_read_the_outbox_still_stops_and_says_why(tmp_path, engines, monkeypatch, caplog):
    caplog.set_level(logging.ERROR, logger=LOGGER)
    root = make_project(tmp_path, free_port())
    orchestration(root, "fine", [["ok"]], notifications=LISTS)
    engine = await engines(root)
    await run_job(engine, "fine")

    def busy(*args, **kwargs):
        raise StateError("database is locked", kind="busy")

    monkeypatch.setattr(engine.history, "notifications", busy)
    await asyncio.wait_for(engine.stop(grace=0), 30)
    assert "cannot read the notification outbox at stop" in [r.getMessage() for r in caplog.records]


async def test_a_stop_leaves_no_notifier_task_running(tmp_path):
    root = make_project(tmp_path, free_port())
    engine = Engine(root, poll_seconds=0.1)
    await engine.start(scheduler=False)
    await asyncio.sleep(0.3)  # the notifier waits for work
    started = time.monotonic()
    await asyncio.wait_for(engine.stop(grace=0), 30)
    assert time.monotonic() - started < 5  # not after the sender's next look at the outbox (every 30 s)
    left = [t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    assert not [name for name in left if name.startswith("kbc-")], left


async def test_a_stop_says_not_sent_yet_for_each_e_mail_it_tried_after_one_it_did_not(tmp_path, engines,
                                                                                     monkeypatch):
    """Runner A tries job 1's e-mail (the next try is far off); runner B does not try it, but tries job 2's: B's
    stop says "not sent yet" for job 2, though job 1's e-mail comes first in the outbox."""
    monkeypatch.setattr(Notifier, "retry_delays", (60, 60))
    root = make_project(tmp_path, free_port())
    orchestration(root, "fine", [["ok"]], notifications=LISTS)
    first_runner = await engines(root)
    first = await run_job(first_runner, "fine")
    assert await log_line(first_runner, first.id, "attempt 1 of 3 failed")
    await first_runner.stop()
    second_runner = await engines(root)
    second = await run_job(second_runner, "fine")
    assert await log_line(second_runner, second.id, "attempt 1 of 3 failed")
    await second_runner.stop()
    history = state_of(root)
    try:
        said = {job.id: [ln for ln in history.log(job.id) if "not sent yet" in ln.text] for job in (first, second)}
    finally:
        history.close()
    assert [len(said[first.id]), len(said[second.id])] == [1, 1], said
    assert said[second.id][0].level == "warning"


async def test_a_stop_sends_what_is_due_though_the_outbox_check_kept_failing(tmp_path, engines, monkeypatch):
    """The sender's outbox check fails (a busy history), so it sleeps; the retry of a failed e-mail falls due
    meanwhile: stopping sends it (the e-mail of a job a `kbc-tui run` has just finished goes out the same way)."""
    monkeypatch.setattr(Notifier, "retry_delays", (0.2, 0.2))
    port = free_port()
    root = make_project(tmp_path, port)  # the server is down for the first attempt
    orchestration(root, "fine", [["ok"]], notifications=LISTS)
    engine = await engines(root)

    def busy(*args, **kwargs):
        raise StateError("database is locked", kind="busy")

    monkeypatch.setattr(engine.history, "next_notification_due", busy)
    job = await run_job(engine, "fine")
    assert await log_line(engine, job.id, "attempt 1 of 3 failed")
    with SmtpServer(port=port) as server:
        await asyncio.sleep(0.5)  # the retry is due; nothing woke the sender
        assert server.messages == []
        await engine.stop(grace=0)
        assert len(server.messages) == 1


async def test_an_e_mail_that_could_not_be_queued_is_queued_once_the_history_takes_writes(tmp_path, engines,
                                                                                           monkeypatch):
    """The job's end is recorded, but writing its e-mail to the outbox fails once (read-only history): the engine
    gives up running jobs, tries again, and once it runs jobs again the e-mail is queued and sent."""
    from kbc_tui.engine import engine as engine_module

    monkeypatch.setattr(engine_module, "FAULT_RETRY_SECONDS", 0.3)
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        orchestration(root, "fine", [["ok"]], notifications=LISTS)
        engine = await engines(root)
        real, calls = engine.history.add_notification, []

        def once(note):
            calls.append(note)
            if len(calls) == 1:
                raise StateError("attempt to write a readonly database", kind="readonly")
            return real(note)

        monkeypatch.setattr(engine.history, "add_notification", once)
        job = await run_job(engine, "fine")
        [mail] = await wait_mail(server, 1)
    assert job.status is JobStatus.SUCCESS
    assert mail.subject == f"[kbc-tui] Success: fine — job {job.id}" and len(calls) == 2


@pytest.mark.sqlite_state("the disk-full reserve is a file kbc-tui keeps beside .kbc/jobs.sqlite on this machine's "
                          "disk; a PostgreSQL state's disk is the server's (its full disk is an error in words, "
                          "with no reserve to give back)")
async def test_an_e_mail_whose_queueing_finds_the_disk_full_is_queued_once_the_reserve_is_given_back(tmp_path, engines):
    """Queueing the error e-mail finds the history's disk full; the runner gives its reserve back and queues it
    at once. Before, it waited for a runner change that never came while this runner kept going: no e-mail."""
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        orchestration(root, "broken", [["bad"]], notifications=LISTS)
        engine = await engines(root)
        db = disk_full_once(root, engine, "BEFORE INSERT ON notifications")
        try:
            job = await run_job(engine, "broken")
            [mail] = await wait_mail(server, 1)
        finally:
            db.close()
    assert job.status is JobStatus.ERROR
    assert mail.recipients == ["ops@example.com"]
    assert engine.problem and "disk almost full" in engine.problem
