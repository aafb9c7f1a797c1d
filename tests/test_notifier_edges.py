"""The notifier's rules at their edges: who counts as an address, no SMTP server, the default retry backoff and
its log, the processing alert's threshold, and the headers of an alert e-mail. Each test kills mutants of
tools/mutation.py's notifier group (fast tests: they run first for every mutant)."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from kbc_tui.model.job import Trigger
from tests.helpers.engines import engines, log_line, run_job  # noqa: F401 (engines: a fixture)
from tests.helpers.projects import ENDLESS, orchestration, project, sql_config
from tests.helpers.job_state import usual_duration
from tests.servers.smtp import SmtpServer, free_port

LISTS = {"error": ["ops@example.com"], "success": ["boss@example.com"]}


def make_project(tmp_path, smtp: dict | None):
    root = project(tmp_path / "p", **({"smtp": smtp} if smtp else {}))
    sql_config(root, "ok", "create table ok as select 1 as n;", ["ok"])
    sql_config(root, "bad", "create table broken as select * from no_such_table;", ["broken"])
    return root


def smtp_at(port: int) -> dict:
    return {"host": "127.0.0.1", "port": port, "from": "kbc@example.com", "timeout_seconds": 3}


@pytest.mark.parametrize("who", ["@example.com", "anna@"])
async def test_a_manual_run_by_a_name_that_is_not_an_address_notifies_nobody(tmp_path, engines, who):
    """Only something like an address gets the manual run's e-mail; "@example.com" and "anna@" are not."""
    root = make_project(tmp_path, smtp_at(free_port()))
    orchestration(root, "nightly", [["bad"]], notifications=LISTS)
    engine = await engines(root)
    job = await run_job(engine, "nightly", trigger=Trigger.MANUAL, triggered_by=who)
    line = await log_line(engine, job.id, "No error e-mail sent")
    assert line is not None and line.level == "warning"
    assert "manual run notifies only the user who ran it" in line.text and who in line.text
    assert engine.history.notifications(job_id=job.id) == []


async def test_without_an_smtp_server_the_job_log_says_no_e_mail_was_sent(tmp_path, engines):
    root = make_project(tmp_path, None)
    orchestration(root, "fine", [["ok"]], notifications=LISTS)
    engine = await engines(root)
    job = await run_job(engine, "fine")
    line = await log_line(engine, job.id, "No success e-mail sent")
    assert line is not None and line.level == "warning"
    assert line.text.startswith("No success e-mail sent to boss@example.com: no SMTP server is configured")
    assert engine.history.notifications(job_id=job.id) == []


async def test_failed_attempts_back_off_10_then_60_s_then_give_up(tmp_path, engines):
    """The default backoff: after attempt 1 the next is 10 s away (not at once), after attempt 2 60 s; attempt 3
    gives up. The waits are skipped by making the e-mail due now, as the passing time would."""
    root = make_project(tmp_path, smtp_at(free_port()))  # nothing listens
    orchestration(root, "fine", [["ok"]], notifications=LISTS)
    engine = await engines(root)
    job = await run_job(engine, "fine")

    def attempts(n):
        return log_line(engine, job.id, f"attempt {n} of 3 failed")

    first = await attempts(1)
    assert first is not None and first.level == "warning" and "trying again in 10 s" in first.text
    await asyncio.sleep(0.5)
    [note] = engine.history.notifications(job_id=job.id)
    assert (note.status, note.attempts) == ("pending", 1)  # not retried at once
    assert 9 < note.next_try - time.time() <= 10
    for n, after in ((2, "trying again in 60 s"), (3, "giving up")):
        [note] = engine.history.notifications(job_id=job.id)
        note.next_try = 0.0  # the wait has passed
        engine.history.update_notification(note)
        engine.notifier.wake()
        line = await attempts(n)
        assert line is not None and after in line.text, [ln.text for ln in engine.job_log(job.id)]
    assert line.level == "error"
    [note] = engine.history.notifications(job_id=job.id)
    assert (note.status, note.attempts) == ("failed", 3)


async def test_the_processing_alert_goes_at_the_usual_duration_with_no_tolerance(tmp_path, engines):
    """Usual 1.0 s, tolerance 0 %: the alert goes after 1.0 s of running (not 2.0 s), and says so; the e-mail
    carries the job and the event in its headers."""
    with SmtpServer() as smtp:
        root = make_project(tmp_path, smtp_at(smtp.port))
        sql_config(root, "endless", ENDLESS, ["t"])
        orchestration(root, "slow", [["endless"]],
                      notifications={"processing": ["watch@example.com"], "processing_tolerance": 0})
        engine = await engines(root)
        usual_duration(engine.history, "slow", 1.0)
        job = await engine.enqueue("slow", trigger=Trigger.SCHEDULE)
        [mail] = await asyncio.to_thread(smtp.wait_for, 1, 15)
        sent = await log_line(engine, job.id, "The processing e-mail was sent to watch@example.com")
        await engine.cancel(job.id)
        await asyncio.wait_for(engine.wait(job.id), 30)
    alert = await log_line(engine, job.id, "sending the processing alert")
    assert alert is not None and alert.level == "warning"
    running_for = float(re.search(r"has been running for ([0-9.]+) s", alert.text).group(1))
    assert 1.0 <= running_for < 1.8, alert.text
    assert "more than its usual 1.0 s + 0 %" in alert.text
    assert sent is not None and sent.level == "info"
    assert mail.message["X-Kbc-Job"] == str(job.id) and mail.message["X-Kbc-Event"] == "processing"
    assert ".kbc-tui@" in mail.message["Message-ID"] and mail.message["Date"]
