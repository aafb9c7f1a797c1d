"""E-mail notifications, end to end: the engine runs real jobs and sends to a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from kbc_tui.engine import Engine
from kbc_tui.engine.mail import MailError, send_test_email
from kbc_tui.engine.notifier import Notifier
from kbc_tui.model.job import JobStatus, TaskStatus, Trigger
from kbc_tui.store.project import Project
from tests.helpers.projects import ENDLESS, orchestration, project, sql_config
from tests.helpers.job_state import state_of, usual_duration
from tests.servers.smtp import SilentServer, SmtpServer, free_port

OK_SQL = "create table ok as select range as n from range(3);"
BAD_SQL = "create table broken as select * from no_such_table;"
LISTS = {"error": ["ops@example.com"], "warning": ["warn@example.com"], "success": ["boss@example.com"]}


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(Notifier, "retry_delays", (0.2, 0.4))
    monkeypatch.setattr(Notifier, "stop_grace", 5.0)


def make_project(tmp_path, port: int, **smtp):
    root = project(tmp_path / "p", smtp={"host": "127.0.0.1", "port": port, "from": "kbc@example.com",
                                         "timeout_seconds": 3, **smtp})
    sql_config(root, "ok", OK_SQL, ["ok"])
    sql_config(root, "bad", BAD_SQL, ["broken"])
    return root


@pytest.fixture
async def engines():
    started: list[Engine] = []

    async def make(root, **kwargs) -> Engine:
        engine = Engine(root, poll_seconds=0.1, **kwargs)
        await engine.start(scheduler=False)
        started.append(engine)
        return engine

    yield make
    for engine in started:
        await engine.stop(grace=0)


async def run_job(engine: Engine, orch: str, trigger=Trigger.SCHEDULE, triggered_by=None):
    job = await engine.enqueue(orch, trigger=trigger, triggered_by=triggered_by)
    return await asyncio.wait_for(engine.wait(job.id), 60)


async def wait_mail(server: SmtpServer, count: int, timeout: float = 15.0):
    return await asyncio.to_thread(server.wait_for, count, timeout)


async def log_text(engine: Engine, job_id: int, needle: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = "\n".join(line.text for line in engine.job_log(job_id))
        if needle in text or time.monotonic() > deadline:
            return text
        await asyncio.sleep(0.05)


# -- who gets what ------------------------------------------------------------------------------------------

async def test_scheduled_error_goes_to_the_error_list_only(tmp_path, engines):
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        orchestration(root, "nightly", [["ok"], ["bad"]], notifications=LISTS)
        engine = await engines(root)
        job = await run_job(engine, "nightly")
        assert job.status is JobStatus.ERROR
        [mail] = await wait_mail(server, 1)
        await asyncio.sleep(0.3)
        assert len(server.messages) == 1
    assert mail.recipients == ["ops@example.com"]
    assert mail.sender == "kbc@example.com"
    assert mail.subject == f"[kbc-tui] Error: nightly — job {job.id}"
    text, html = mail.body("plain"), mail.body("html")
    assert "no_such_table" in text and "no_such_table" in html  # the error and the failing task's log
    assert "sql-transformation/ok" in text and "success" in text  # every task with its status
    assert "sql-transformation/bad" in text and "Last" in text
    assert "<table" in html
    assert "The error e-mail was sent to ops@example.com" in await log_text(engine, job.id, "was sent")


async def test_a_name_with_line_breaks_still_makes_a_one_line_subject(tmp_path, engines):
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        orchestration(root, "odd", [["ok"]], notifications=LISTS)
        path = root / "orchestrations" / "odd.toml"
        path.write_text(path.read_text().replace('name = "odd"', 'name = "Two\\nlines"'))
        engine = await engines(root)
        job = await run_job(engine, "odd")
        [mail] = await wait_mail(server, 1)
    # a control character in a name is a validation error now: the job refuses to start, and says why
    assert "name: contains the control character \\n" in job.message
    assert mail.subject == f"[kbc-tui] Error: Two lines — job {job.id}"


async def test_control_characters_from_a_server_reach_no_mail_reader_raw(tmp_path, engines):
    """An error message or log line can carry an escape sequence (a table name here): the e-mail shows it as
    text (``\\x1b``), as the screen does, so it cannot retitle or clear the terminal of someone reading the
    e-mail in mutt."""
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        sql_config(root, "evil", 'create table t as select * from "no\x1b]0;pwned\x07table";', ["t"])
        orchestration(root, "nightly", [["evil"]], notifications=LISTS)
        engine = await engines(root)
        job = await run_job(engine, "nightly")
        [mail] = await wait_mail(server, 1)
    assert job.status is JobStatus.ERROR
    for body in (mail.body("plain"), mail.body("html"), mail.subject):
        assert "\x1b" not in body and "\x07" not in body
    assert "no\\x1b]0;pwned\\x07table" in mail.body("plain")


async def test_warning_and_success_go_to_their_lists(tmp_path, engines):
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        orchestration(root, "soft", [["ok", {"config": "bad", "continue_on_failure": True}]], notifications=LISTS)
        orchestration(root, "fine", [["ok"]], notifications=LISTS)
        engine = await engines(root)
        soft = await run_job(engine, "soft")
        fine = await run_job(engine, "fine")
        assert (soft.status, fine.status) == (JobStatus.WARNING, JobStatus.SUCCESS)
        mails = await wait_mail(server, 2)
    by_to = {m.recipients[0]: m for m in mails}
    assert set(by_to) == {"warn@example.com", "boss@example.com"}
    assert by_to["warn@example.com"].subject == f"[kbc-tui] Warning: soft — job {soft.id}"
    assert "no_such_table" in by_to["warn@example.com"].body()
    assert by_to["boss@example.com"].subject == f"[kbc-tui] Success: fine — job {fine.id}"
    assert "3 rows" in by_to["boss@example.com"].body()


async def test_manual_run_notifies_only_the_user_who_ran_it(tmp_path, engines, monkeypatch):
    monkeypatch.setenv("KBC_USER_EMAIL", "anna@example.com")
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        orchestration(root, "nightly", [["bad"]], notifications=LISTS)
        orchestration(root, "quiet", [["bad"]])  # no addresses for error: nobody is told, not even Anna
        engine = await engines(root)
        job = await run_job(engine, "nightly", trigger=Trigger.MANUAL)
        quiet = await run_job(engine, "quiet", trigger=Trigger.MANUAL)
        [mail] = await wait_mail(server, 1)
        await asyncio.sleep(0.5)
        assert len(server.messages) == 1
    assert job.triggered_by == "anna@example.com"
    assert mail.recipients == ["anna@example.com"]
    assert "ops@example.com" not in str(mail.message["To"])
    assert "e-mail" not in "\n".join(line.text for line in engine.job_log(quiet.id))


async def test_manual_run_without_a_known_user_email_sends_nothing_and_says_so(tmp_path, engines):
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        orchestration(root, "nightly", [["bad"]], notifications=LISTS)
        engine = await engines(root)
        job = await run_job(engine, "nightly", trigger=Trigger.MANUAL, triggered_by="anna")
        text = await log_text(engine, job.id, "No error e-mail sent")
        await asyncio.sleep(0.3)
        assert server.messages == []
    assert "manual run notifies only the user who ran it" in text
    assert "anna" in text and "KBC_USER_EMAIL" in text


async def test_processing_alert_fires_once(tmp_path, engines):
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        sql_config(root, "endless", ENDLESS, ["t"])
        orchestration(root, "slow", [["endless"]],
                      notifications={"processing": ["watch@example.com"], "processing_tolerance": 50})
        engine = await engines(root)
        usual_duration(engine.history, "slow", 0.2)  # a history of successful runs of about 0.2 s
        job = await engine.enqueue("slow", trigger=Trigger.SCHEDULE)
        [mail] = await wait_mail(server, 1)
        await asyncio.sleep(1.0)  # well past the threshold (0.3 s) again: still one
        assert len(server.messages) == 1
        await engine.cancel(job.id)
        await asyncio.wait_for(engine.wait(job.id), 30)
    assert mail.recipients == ["watch@example.com"]
    assert mail.subject.startswith(f"[kbc-tui] Still running: slow — job {job.id}")
    assert "+50 %" in mail.body()
    assert "sending the processing alert" in await log_text(engine, job.id, "processing alert")


# -- the connection ------------------------------------------------------------------------------------------

async def test_starttls_with_a_self_signed_certificate(tmp_path, engines):
    with SmtpServer(security="starttls", cert_dir=tmp_path / "p" / "tls") as server:
        # trusted through ca_file (relative to the project folder): delivered over STARTTLS
        root = make_project(tmp_path, server.port, security="starttls", ca_file="tls/cert.pem")
        orchestration(root, "fine", [["ok"]], notifications=LISTS)
        engine = await engines(root)
        job = await run_job(engine, "fine")
        assert job.status is JobStatus.SUCCESS
        [mail] = await wait_mail(server, 1)
        assert mail.recipients == ["boss@example.com"]
        await engine.stop()
        # not trusted: refused with the reason and the fix, job unchanged
        settings = Project.load(root).settings
        settings.smtp.ca_file = ""
        with pytest.raises(MailError) as failure:
            await send_test_email(settings, Project.load(root).secrets, "me@example.com")
    assert "certificate is not trusted" in str(failure.value)
    assert "ca_file" in str(failure.value)


async def test_implicit_tls_and_login(tmp_path, monkeypatch):
    monkeypatch.setenv("SMTP_PW", "s3cret-pass")
    with SmtpServer(security="tls", cert_dir=tmp_path / "tls", users={"kbc": "s3cret-pass"}) as server:
        root = make_project(tmp_path, server.port, security="tls", ca_file=str(server.cert), username="kbc",
                            **{"#password": "env:SMTP_PW"})
        p = Project.load(root)
        await send_test_email(p.settings, p.secrets, "me@example.com")
        [mail] = await wait_mail(server, 1)
    assert mail.recipients == ["me@example.com"] and "Test e-mail" in mail.subject


async def test_authentication_failure_is_said_in_words_without_the_password(tmp_path, monkeypatch):
    monkeypatch.setenv("SMTP_PW", "wrong-password")
    with SmtpServer(security="starttls", cert_dir=tmp_path / "tls", users={"kbc": "right"}) as server:
        root = make_project(tmp_path, server.port, security="starttls", ca_file=str(server.cert),
                            username="kbc", **{"#password": "env:SMTP_PW"})
        p = Project.load(root)
        with pytest.raises(MailError) as failure:
            await send_test_email(p.settings, p.secrets, "me@example.com")
        assert server.messages == []
    message = str(failure.value)
    assert f"SMTP server 127.0.0.1:{server.port} refused the login of user 'kbc'" in message
    assert "535" in message
    assert "wrong-password" not in message


async def test_server_down_never_changes_the_job_and_three_attempts_are_logged(tmp_path, engines):
    root = make_project(tmp_path, free_port())  # nothing listens there
    orchestration(root, "fine", [["ok"]], notifications=LISTS)
    engine = await engines(root)
    job = await run_job(engine, "fine")
    assert job.status is JobStatus.SUCCESS
    text = await log_text(engine, job.id, "giving up")
    assert engine.get_job(job.id).status is JobStatus.SUCCESS
    attempts = [line for line in text.splitlines() if "The success e-mail to boss@example.com" in line]
    assert len(attempts) == 3, text
    assert "attempt 1 of 3 failed: cannot connect to SMTP server 127.0.0.1" in attempts[0]
    assert "trying again in 0.2 s" in attempts[0]
    assert "attempt 3 of 3 failed" in attempts[2] and "giving up" in attempts[2]
    [note] = engine.history.notifications(job_id=job.id)
    assert (note.status, note.attempts) == ("failed", 3)
    shown = subprocess.run([sys.executable, "-m", "kbc_tui", "job", str(job.id), "--json", "--project", str(root)],
                           capture_output=True, text=True, timeout=60)
    [mail] = json.loads(shown.stdout)["notifications"]
    assert (mail["event"], mail["recipients"], mail["status"], mail["attempts"]) == (
        "success", ["boss@example.com"], "failed", 3)
    assert "cannot connect" in mail["last_error"]


async def test_a_server_that_never_answers_does_not_hold_up_jobs(tmp_path, engines):
    with SilentServer() as silent:
        root = make_project(tmp_path, silent.port, timeout_seconds=1)
        orchestration(root, "fine", [["ok"]], notifications=LISTS)
        engine = await engines(root)
        started = time.monotonic()
        first = await run_job(engine, "fine")
        second = await run_job(engine, "fine")
        elapsed = time.monotonic() - started
        assert (first.status, second.status) == (JobStatus.SUCCESS, JobStatus.SUCCESS)
        assert elapsed < 5, f"two quick jobs took {elapsed:.1f} s with a hanging SMTP server"
        text = await log_text(engine, first.id, "did not answer")
    assert "did not answer within 1 s" in text


async def test_a_send_in_progress_neither_spins_the_loop_nor_counts_when_stop_cuts_it_short(tmp_path, engines,
                                                                                            monkeypatch):
    monkeypatch.setattr(Notifier, "stop_grace", 0.2)
    with SilentServer() as silent:
        root = make_project(tmp_path, silent.port, timeout_seconds=5)
        orchestration(root, "fine", [["ok"]], notifications=LISTS)
        engine = await engines(root)
        checks = []
        real = engine.history.next_notification_due
        monkeypatch.setattr(engine.history, "next_notification_due", lambda *a, **kw: checks.append(1) or real(*a, **kw))
        job = await run_job(engine, "fine")
        await asyncio.sleep(1.0)  # the e-mail is being sent all this time: the server never answers
        assert len(checks) <= 3, f"the outbox was polled {len(checks)} times during one send"
        await engine.stop()
    [note] = state_of(root).notifications(job_id=job.id)
    assert (note.status, note.attempts) == ("pending", 0)  # cut short by stop: not one of the 3 attempts


async def test_unsent_mail_waits_in_the_outbox_for_the_next_runner(tmp_path, engines, monkeypatch):
    monkeypatch.setattr(Notifier, "retry_delays", (0.1, 0.5))
    port = free_port()  # the server is down while the job runs
    root = make_project(tmp_path, port)
    orchestration(root, "fine", [["ok"]], notifications=LISTS)
    engine = await engines(root)
    job = await run_job(engine, "fine")
    await log_text(engine, job.id, "attempt 2 of 3 failed")
    await engine.stop()  # the third attempt is not due yet: it stays in the outbox
    # (a shared state: the next engine is a worker of the same name, host:pid of this process — before, no later
    # worker sent the e-mail a stopped worker had queued)
    with SmtpServer(port=port) as server:
        later = await engines(root)
        [mail] = await wait_mail(server, 1)
        text = await log_text(later, job.id, "was sent")
    assert mail.recipients == ["boss@example.com"]
    assert f"job {job.id}" in mail.subject
    assert "is not sent yet: kbc-tui stopped; it is sent when kbc-tui next runs jobs" in text
    assert "The success e-mail was sent to boss@example.com" in text


def test_a_killed_runner_job_alerts_at_the_next_start(tmp_path, state_backend):
    """SIGKILL a real `kbc-tui run` mid-job: the next process that takes the runner lock sends the error mail.
    A shared state judges no job by its pid (the worker may be on another machine): the next worker ends it once
    the killed worker's heartbeat is ``heartbeat_timeout`` old (3 s here), and sends the mail then."""
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        if state_backend == "postgresql":
            with (root / "kbc.toml").open("a") as toml:
                toml.write("\n[state]\nheartbeat_timeout = 3\n")
        sql_config(root, "endless", ENDLESS, ["t"])
        orchestration(root, "nightly", [["endless"]], notifications=LISTS)
        env = {**os.environ, "KBC_USER_EMAIL": "night@example.com", "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "kbc_tui", "run", "nightly", "--project", str(root)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            history = state_of(root)
            while time.monotonic() < deadline:
                tasks = [t for job in history.list_jobs("nightly") for t in history.task_runs(job.id)]
                if tasks and tasks[0].status is TaskStatus.PROCESSING:
                    break
                time.sleep(0.2)
            history.close()
            time.sleep(1.0)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert server.messages == []

        async def restart() -> int:
            engine = Engine(root, poll_seconds=0.1)
            await engine.start(scheduler=False)
            try:
                [job] = engine.list_jobs("nightly")
                await asyncio.to_thread(server.wait_for, 1, 15)
                return job.id
            finally:
                await engine.stop(grace=0)

        job_id = asyncio.run(restart())
    [mail] = server.messages
    assert mail.recipients == ["night@example.com"]  # a manual run: its user, not the lists
    assert mail.subject == f"[kbc-tui] Terminated: nightly — job {job_id}"
    if state_backend == "sqlite":
        assert "the process running this job" in mail.body()
    else:
        assert "stopped answering (no heartbeat for" in mail.body(), mail.body()


def test_cli_test_email_sends_or_says_why(tmp_path):
    cli = [sys.executable, "-m", "kbc_tui", "test-email"]
    with SmtpServer() as server:
        root = make_project(tmp_path, server.port)
        sent = subprocess.run([*cli, "me@example.com", "--project", str(root)], capture_output=True, text=True,
                              timeout=60)
        [mail] = server.wait_for(1)
    assert sent.returncode == 0, sent.stderr
    assert "Sent." in sent.stdout and mail.recipients == ["me@example.com"]
    down = subprocess.run([*cli, "me@example.com", "--project", str(root)], capture_output=True, text=True,
                          timeout=60)
    assert down.returncode == 1
    assert f"kbc-tui: cannot connect to SMTP server 127.0.0.1:{server.port}" in down.stderr
    bad = subprocess.run([*cli, "not-an-address", "--project", str(root)], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 1 and "invalid e-mail address 'not-an-address'" in bad.stderr


def test_a_missing_ca_file_is_a_project_problem(tmp_path):
    root = make_project(tmp_path, 25, security="starttls", ca_file="certs/missing.pem")
    problems = [str(p) for p in Project.load(root).problems]
    assert any("smtp.ca_file" in p and "no such file" in p and "certs/missing.pem" in p for p in problems), problems


async def test_a_stop_logs_not_sent_yet_only_for_the_mail_it_tried(tmp_path, engines, monkeypatch):
    """Every process stop added another "not sent yet" line per pending e-mail, tried or not."""
    monkeypatch.setattr(Notifier, "retry_delays", (60, 60))  # the next try is far off: later runners wait
    root = make_project(tmp_path, free_port())  # the server is down
    orchestration(root, "fine", [["ok"]], notifications=LISTS)
    engine = await engines(root)
    job = await run_job(engine, "fine")
    await log_text(engine, job.id, "attempt 1 of 3 failed")
    await engine.stop()
    for _ in range(2):  # runners that start and stop before the next try is due
        later = await engines(root)
        await asyncio.sleep(0.3)
        await later.stop()
    lines = [ln.text for ln in state_of(root).log(job.id) if "not sent yet" in ln.text]
    assert len(lines) == 1, lines


def test_run_with_a_silent_smtp_server_says_it_waits_and_ends_soon(tmp_path):
    """`kbc-tui run` of a 0.1 s job against an SMTP server that never answers: it waited stop_grace (10 s) for
    the e-mail, saying nothing. It says one line while it waits and ends within a few seconds; and a later run,
    which tries job 1's e-mail again, does not add another "not sent yet" line to job 1's log."""
    with SilentServer() as silent:
        root = project(tmp_path / "p", user={"email": "me@example.com"},
                       smtp={"host": "127.0.0.1", "port": silent.port, "from": "kbc@example.com"})  # 30 s timeout
        sql_config(root, "ok", OK_SQL, ["ok"])
        orchestration(root, "fine", [["ok"]], notifications=LISTS)
        runs = []
        for _ in range(3):
            started = time.monotonic()
            out = subprocess.run([sys.executable, "-m", "kbc_tui", "run", "fine", "--project", str(root)],
                                 capture_output=True, text=True, timeout=60)
            runs.append((time.monotonic() - started, out))
    for elapsed, out in runs:
        assert out.returncode == 0, out.stderr
        waiting = [ln for ln in out.stderr.splitlines() if "waiting up to" in ln]
        assert len(waiting) == 1, out.stderr
        assert "SMTP server" in waiting[0] and "stays queued" in waiting[0], waiting
        assert elapsed < 8, f"`kbc-tui run` took {elapsed:.1f} s to end after a quick job (silent SMTP server)"
    assert "job 1's e-mail" in runs[0][1].stderr, runs[0][1].stderr
    history = state_of(root)
    try:
        said = {job_id: [ln.text for ln in history.log(job_id) if "not sent yet" in ln.text] for job_id in (1, 2, 3)}
        notes = history.notifications()
    finally:
        history.close()
    assert [len(said[job_id]) for job_id in (1, 2, 3)] == [1, 1, 1], said
    assert {(n.job_id, n.status, n.attempts) for n in notes} == {(1, "pending", 0), (2, "pending", 0),
                                                                 (3, "pending", 0)}


async def test_a_stop_that_cuts_an_e_mail_short_again_adds_no_second_not_sent_yet_line(tmp_path, engines,
                                                                                       monkeypatch):
    """The SMTP server hangs: each runner's stop cuts job 1's e-mail short (it stays pending, untried). Each later
    runner, retrying it, added one more "not sent yet" line to job 1's log."""
    monkeypatch.setattr(Notifier, "stop_grace", 0.3)
    with SilentServer() as silent:
        root = make_project(tmp_path, silent.port, timeout_seconds=30)
        orchestration(root, "fine", [["ok"]], notifications=LISTS)
        jobs = []
        for _ in range(3):
            runner = await engines(root)
            jobs.append(await run_job(runner, "fine"))
            await runner.stop()
    history = state_of(root)
    try:
        said = {job.id: [ln.text for ln in history.log(job.id) if "not sent yet" in ln.text] for job in jobs}
        notes = history.notifications()
    finally:
        history.close()
    assert [len(lines) for lines in said.values()] == [1, 1, 1], said
    assert [(n.status, n.attempts) for n in notes] == [("pending", 0)] * 3
    assert {n.last_error for n in notes} == {"not sent yet: kbc-tui stopped before the SMTP server took it"}
