"""Alerts users rely on: the e-mail of a job `kbc-tui run` ran, and the processing alert's tolerance."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers.projects import orchestration, project, sql_config
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
