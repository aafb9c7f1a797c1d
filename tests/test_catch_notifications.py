"""Alerts users rely on: the e-mail of a job `kbc-tui run` ran, and the processing alert's tolerance."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

from kbc_tui.engine import Engine
from kbc_tui.model.job import Trigger
from tests.helpers.projects import ENDLESS, orchestration, project, sql_config
from tests.helpers.job_state import usual_duration
from tests.servers.smtp import SmtpServer


def test_kbc_tui_run_sends_the_e_mail_of_its_job_before_it_exits(tmp_path):
    """Before, the process exited while the finished job was still closing storage, so the e-mail was never
    queued (not sent then, nor by the next runner)."""
    with SmtpServer() as smtp:
        root = project(tmp_path / "p", smtp={"host": "127.0.0.1", "port": smtp.port, "from": "kbc@example.com",
                                             "timeout_seconds": 3})
        sql_config(root, "bad", "select nope;", ["x"])
        orchestration(root, "broken", [["bad"]], notifications={"error": ["ops@example.com"]})
        run = subprocess.run([sys.executable, "-m", "kbc_tui", "run", "broken", "--project", str(root)],
                             env={**os.environ, "KBC_USER_EMAIL": "anna@example.com"}, capture_output=True,
                             text=True, timeout=60)
        assert run.returncode == 1, run.stdout + run.stderr
        [mail] = smtp.wait_for(1, 5)  # sent by the time the command has exited
    assert mail.recipients == ["anna@example.com"]
    assert mail.subject.startswith("[kbc-tui] Error: broken — job 1")
    assert "nope" in mail.body()


async def test_the_processing_alert_waits_for_the_usual_duration_plus_its_tolerance(tmp_path):
    """Usual duration 0.5 s, tolerance 300 %: the alert goes at 2.0 s, not at 0.5 s (the tolerance ignored) nor
    at 0.6 s (the default 20 %)."""
    with SmtpServer() as smtp:
        root = project(tmp_path / "p", smtp={"host": "127.0.0.1", "port": smtp.port, "from": "kbc@example.com",
                                             "timeout_seconds": 3})
        sql_config(root, "endless", ENDLESS, ["t"])
        orchestration(root, "slow", [["endless"]],
                      notifications={"processing": ["watch@example.com"], "processing_tolerance": 300})
        engine = Engine(root, poll_seconds=0.1)
        await engine.start(scheduler=False)
        try:
            usual_duration(engine.history, "slow", 0.5)  # the usual run: 0.5 s
            asked = time.monotonic()
            job = await engine.enqueue("slow", trigger=Trigger.SCHEDULE)
            await asyncio.sleep(1.5)
            assert smtp.messages == [], "the processing alert went before usual duration + tolerance"
            [mail] = await asyncio.to_thread(smtp.wait_for, 1, 15)
            arrived = time.monotonic() - asked
            await engine.cancel(job.id)
            await asyncio.wait_for(engine.wait(job.id), 30)
            log = "\n".join(line.text for line in engine.job_log(job.id))
        finally:
            await engine.stop(grace=0)
    assert 1.9 <= arrived < 12, arrived
    assert mail.subject.startswith(f"[kbc-tui] Still running: slow — job {job.id}")
    assert "more than its usual 0.5 s + 300 %: sending the processing alert" in log
