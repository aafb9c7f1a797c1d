"""A MariaDB password with non-ASCII characters logs in (PyMySQL used to send it as latin-1: 'pässwörd' was
refused as a wrong password and '€' failed with a UnicodeEncodeError), for the db-extractor's fast and generic
paths and the db-writer."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kbc_tui.model.job import JobStatus
from kbc_tui.storage.duckdb_storage import DuckDBStorage
from tests.helpers.components import run_config
from tests.helpers.projects import project


@pytest.mark.parametrize("password", ["pässwörd-1", "pa€s-пароль-🔑"])
def test_a_non_ascii_mariadb_password_logs_in(mysql_url, unique, tmp_path, monkeypatch, password):
    admin = sa.create_engine(mysql_url)
    user, name = f"kbc_pw_{unique}", f"pw_{unique}"
    with admin.begin() as conn:
        for host in ("%", "localhost"):
            conn.execute(sa.text(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY :pw"), {"pw": password})
            conn.execute(sa.text(f"GRANT ALL ON test.* TO '{user}'@'{host}'"))
        conn.execute(sa.text(f"CREATE TABLE {name} (id int PRIMARY KEY, v varchar(10))"))
        conn.execute(sa.text(f"INSERT INTO {name} VALUES (1, 'a'), (2, 'b')"))
    monkeypatch.setenv("PW_TEST", password)
    url = f"mysql+pymysql://{user}@127.0.0.1:3306/test"
    try:
        root = project(tmp_path / "p")
        for fast in (True, False):
            table = {"name": "t", "table": name, "output": "in.c-pw.t", "fast": fast}
            job, storage, _ = run_config(root, "db-extractor", "src",
                                         {"url": url, "#password": "env:PW_TEST", "tables": [table]})
            assert job.status is JobStatus.SUCCESS, job.message
            assert job.tasks[0].rows == 2
        DuckDBStorage(root / ".kbc" / "storage.duckdb").write_arrow(
            "out.c-pw.t", storage.read_arrow("in.c-pw.t").read_all())
        job, _, _ = run_config(root, "db-writer", "dst", {"url": url, "#password": "env:PW_TEST", "tables": [
            {"source": "out.c-pw.t", "table": f"{name}_copy"}]})
        assert job.status is JobStatus.SUCCESS, job.message
        with admin.connect() as conn:
            assert conn.execute(sa.text(f"SELECT count(*) FROM {name}_copy")).scalar() == 2
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}_copy"))
            for host in ("%", "localhost"):
                conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'{host}'"))
        admin.dispose()
