"""Secrets never reach what a user reads: the job log in the history, ``kbc-tui job N --json``, the output of
``kbc-tui run``, alert e-mails, and database drivers' error messages.

The echo is real: the gooddata-writer's peer answers its upload notification with an error page that repeats the
request's ``Authorization`` header (as a debugging proxy in front of an API does), and the writer puts the
peer's answer into its error message; with ``retries`` the failure is logged once more before the retry. The
token comes from ``#token`` as ``env:NAME`` or encrypted by ``kbc-tui encrypt``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from kbc_tui.model.job import JobStatus
from kbc_tui.store.toml_io import dumps_toml
from tests.helpers.components import run_config
from tests.helpers.projects import orchestration, project, sql_config
from tests.servers.http import LocalServer
from tests.servers.smtp import SmtpServer

KBC = [sys.executable, "-m", "kbc_tui"]
TOKEN = "gd-T0ken-5ecret-4f2a"
NOTIFY = "/api/v1/actions/dataSources/warehouse/uploadNotification"


def kbc(root, *args, env=None, timeout=60):
    return subprocess.run([*KBC, *args, "--project", str(root)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def echo_headers(request: dict) -> bytes:
    return f"bad request: Authorization={request['headers'].get('Authorization')!r}".encode()


def make_project(tmp_path, smtp_port: int, gd_host: str, token_value: str):
    root = project(tmp_path / "p", smtp={"host": "127.0.0.1", "port": smtp_port, "from": "kbc@example.com",
                                         "timeout_seconds": 3})
    sql_config(root, "make", "create table t as select range as id from range(3);", ["t"])
    path = root / "components" / "gooddata-writer" / "gd.toml"
    path.parent.mkdir(parents=True)
    path.write_bytes(dumps_toml({"name": "gd", "parameters": {
        "url": "sqlite:///out/gd.sqlite", "tables": [{"source": "out.c-test.t", "table": "t"}],
        "gooddata": {"host": gd_host, "data_source_id": "warehouse", "#token": token_value}}}))
    orchestration(root, "publish", [["make"], [{"component": "gooddata-writer", "config": "gd", "retries": 1,
                                                "retry_delay_seconds": 0}]],
                  notifications={"error": ["ops@example.com"]})
    return root


@pytest.mark.parametrize("stored_as", ["env", "encrypted"])
def test_a_secret_echoed_by_a_peer_is_masked_everywhere_a_user_reads(tmp_path, stored_as):
    env = {"KBC_USER_EMAIL": "anna@example.com"}
    with SmtpServer() as smtp, LocalServer() as gd:
        gd.route("POST", NOTIFY, status=400, body=echo_headers)
        if stored_as == "env":
            env["GD_MASK_TOKEN"] = TOKEN
            root = make_project(tmp_path, smtp.port, gd.url, "env:GD_MASK_TOKEN")
        else:
            root = make_project(tmp_path, smtp.port, gd.url, TOKEN)
            encrypted = kbc(root, "encrypt")
            assert encrypted.returncode == 0, encrypted.stderr
            assert TOKEN not in (root / "components" / "gooddata-writer" / "gd.toml").read_text()
        run = kbc(root, "run", "publish", env=env)
        [mail] = smtp.wait_for(1, 15)
    # the peer did get the token, twice (one retry), and echoed it back
    assert [r.headers["Authorization"] for r in gd.requests] == [f"Bearer {TOKEN}"] * 2
    assert run.returncode == 1, run.stdout + run.stderr
    assert "GoodData answered HTTP 400: bad request: Authorization='Bearer *****'" in run.stdout
    assert "attempt 1 failed: data loaded, but GoodData answered HTTP 400" in run.stdout
    assert TOKEN not in run.stdout + run.stderr

    job_id = json.loads(kbc(root, "jobs", "--json").stdout)[0]["id"]
    shown = kbc(root, "job", str(job_id), "--json")
    data = json.loads(shown.stdout)
    assert data["status"] == "error"
    assert "Bearer *****" in data["tasks"][1]["message"] and "Bearer *****" in data["message"]
    retry_lines = [ln["text"] for ln in data["log"] if "attempt 1 failed" in ln["text"]]
    assert len(retry_lines) == 1 and "Bearer *****" in retry_lines[0]
    assert TOKEN not in shown.stdout + shown.stderr
    plain = kbc(root, "job", str(job_id))
    assert "Bearer *****" in plain.stdout and TOKEN not in plain.stdout + plain.stderr

    assert mail.recipients == ["anna@example.com"]
    text, html = mail.body("plain"), mail.body("html")
    assert "Bearer *****" in text and "*****" in html
    assert TOKEN not in text + html + mail.subject


# -- database drivers: a password the server refuses, and a failure after a login with a password ---------------

def test_mariadb_refusing_a_password_says_who_without_the_password(mysql_url, unique, tmp_path, monkeypatch):
    """A dedicated MariaDB user with a password; the config's ``#password`` is another one: the server refuses it
    (Access denied ... using password: YES); the job names the user and the server, never the password."""
    admin = sa.create_engine(mysql_url)
    user, right, wrong = f"kbc_mask_{unique}", f"Right-{unique}-pw", f"Wr0ng-{unique}-pw"
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{right}'"))
        conn.execute(sa.text(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY '{right}'"))
        conn.execute(sa.text(f"GRANT SELECT ON test.* TO '{user}'@'%'"))
        conn.execute(sa.text(f"GRANT SELECT ON test.* TO '{user}'@'localhost'"))
        conn.execute(sa.text(f"CREATE TABLE mask_{unique} (id INT PRIMARY KEY)"))
    try:
        root = project(tmp_path / "p")
        params = {"url": f"mysql+pymysql://{user}@127.0.0.1:3306/test", "#password": "env:MASK_DB_PW",
                  "tables": [{"name": "t", "table": f"mask_{unique}", "output": "in.c-mask.t"}]}
        monkeypatch.setenv("MASK_DB_PW", right)
        job, _, _ = run_config(root, "db-extractor", "maria", params)
        assert job.status is JobStatus.SUCCESS, job.message  # the right password logs in
        monkeypatch.setenv("MASK_DB_PW", wrong)
        job, _, log = run_config(root, "db-extractor", "maria")
        assert job.status is JobStatus.ERROR
        assert job.tasks[0].message == (f"cannot log in to mysql at 127.0.0.1:3306 as '{user}': "
                                        "wrong user name or password")
        shown = kbc(root, "job", str(job.id), "--json")
        assert user in shown.stdout
        assert wrong not in "\n".join(log) + job.message + shown.stdout + shown.stderr
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS mask_{unique}"))
            conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'%'"))
            conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'localhost'"))
        admin.dispose()


def test_postgresql_failure_after_a_login_with_a_password_never_shows_it(pg_url, unique, tmp_path, monkeypatch):
    """PostgreSQL here trusts 127.0.0.1 (any password logs in), so the failure is the next realistic one: a role
    with a password that may not read the table. The driver's message names the role and the table only."""
    admin = sa.create_engine(pg_url)
    role, password = f"kbc_mask_{unique}", f"Pg-{unique}-secret"
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
        conn.execute(sa.text(f"CREATE TABLE mask_{unique} (id int primary key)"))
    try:
        root = project(tmp_path / "p")
        monkeypatch.setenv("MASK_DB_PW", password)
        job, _, log = run_config(root, "db-extractor", "pg", {
            "url": f"postgresql+psycopg://{role}@127.0.0.1:5432/test", "#password": "env:MASK_DB_PW",
            "tables": [{"name": "t", "table": f"mask_{unique}", "output": "in.c-mask.t"}]})
        assert job.status is JobStatus.ERROR
        assert "permission denied" in job.tasks[0].message and f"mask_{unique}" in job.tasks[0].message
        shown = kbc(root, "job", str(job.id), "--json")
        assert password not in "\n".join(log) + job.message + shown.stdout + shown.stderr
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS mask_{unique}"))
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()
