"""tableau-writer (.hyper read back), Tableau publish, db-writer and gooddata-writer against real peers."""

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa

from kbc_tui.model.job import JobStatus
from kbc_tui.storage.duckdb_storage import DuckDBStorage
from tests.helpers.components import run_config
from tests.helpers.projects import project
from tests.servers.http import LocalServer

UTC = dt.timezone.utc
TABLE = pa.table({
    "id": pa.array([1, 2, 3], pa.int64()),
    "small": pa.array([1, None, -3], pa.int16()),
    "amount": pa.array([Decimal("12345678901234.5678"), None, Decimal("-0.0001")], pa.decimal128(18, 4)),
    "ratio": pa.array([0.5, 1.25, None], pa.float64()),
    "flag": pa.array([True, False, None]),
    "day": pa.array([dt.date(2024, 2, 29), None, dt.date(1970, 1, 1)]),
    "at": pa.array([dt.datetime(2026, 2, 28, 13, 45, 1, 123456), None, dt.datetime(1999, 12, 31, 23, 59, 59)],
                   pa.timestamp("us")),
    "at_tz": pa.array([dt.datetime(2026, 2, 28, 12, 45, 1, tzinfo=UTC), None, None], pa.timestamp("us", tz="UTC")),
    "label": pa.array(["Příliš žluťoučký kůň 🐎", "", None]),
})


@pytest.fixture
def root(tmp_path):
    root = project(tmp_path / "p")
    DuckDBStorage(root / ".kbc" / "storage.duckdb").write_arrow("out.c-r.mixed", TABLE, primary_key=["id"])
    return root


def read_hyper(path):
    from tableauhyperapi import Connection, HyperProcess, TableName, Telemetry

    with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": str(path.parent)}) as hp:
        with Connection(hp.endpoint, str(path)) as conn:
            name = TableName("Extract", "Extract")
            definition = conn.catalog.get_table_definition(name)
            types = {str(c.name.unescaped): str(c.type) for c in definition.columns}
            rows = conn.execute_list_query(f"SELECT * FROM {name} ORDER BY id")
    return types, rows


def test_hyper_file_matches_storage_row_for_row_and_type_for_type(root):
    job, storage, log = run_config(root, "tableau-writer", "t", {
        "output_dir": "out/tableau", "tables": [{"source": "out.c-r.mixed"}]})
    assert job.status is JobStatus.SUCCESS, job.message
    path = root / "out" / "tableau" / "mixed.hyper"
    types, rows = read_hyper(path)
    assert types == {"id": "BIG_INT", "small": "SMALL_INT", "amount": "NUMERIC(18, 4)", "ratio": "DOUBLE",
                     "flag": "BOOL", "day": "DATE", "at": "TIMESTAMP", "at_tz": "TIMESTAMP_TZ", "label": "TEXT"}
    stored = storage.preview("out.c-r.mixed")[1]
    assert len(rows) == len(stored) == 3
    for hyper_row, storage_row in zip(rows, sorted(stored)):
        normalized = []
        for value in hyper_row:
            if hasattr(value, "to_datetime"):
                value = value.to_datetime()
            elif hasattr(value, "to_date"):
                value = value.to_date()
            normalized.append(value)
        expected = [v.astimezone(UTC) if isinstance(v, dt.datetime) and v.tzinfo else v for v in storage_row]
        normalized = [v.astimezone(UTC) if isinstance(v, dt.datetime) and v.tzinfo else v for v in normalized]
        assert normalized == expected
    assert not list(root.glob("*.log")) and list((root / ".kbc" / "hyper").glob("*.log"))
    assert not list(path.parent.glob(".*.tmp"))


def test_hyper_is_replaced_atomically_and_a_failure_keeps_the_old_file(root):
    params = {"output_dir": "out", "tables": [{"source": "out.c-r.mixed", "file": "x.hyper"}]}
    assert run_config(root, "tableau-writer", "t", params)[0].status is JobStatus.SUCCESS
    before = (root / "out" / "x.hyper").read_bytes()
    params["tables"].append({"source": "out.c-r.missing", "file": "y.hyper"})
    job, _, _ = run_config(root, "tableau-writer", "t", params)
    assert job.status is JobStatus.ERROR and "out.c-r.missing does not exist" in job.tasks[0].message
    assert read_hyper(root / "out" / "x.hyper")[1]  # still a valid extract
    assert len(before) > 0


def test_hyper_replacing_an_extract_leaves_only_the_new_one(root):
    params = {"output_dir": "out", "tables": [{"source": "out.c-r.mixed", "file": "x.hyper"}]}
    assert run_config(root, "tableau-writer", "t", params)[0].status is JobStatus.SUCCESS
    storage = DuckDBStorage(root / ".kbc" / "storage.duckdb")
    storage.write_select("out.c-r.mixed", "SELECT * FROM \"out.c-r\".mixed WHERE id < 3")
    job, _, _ = run_config(root, "tableau-writer", "t", params)
    assert job.status is JobStatus.SUCCESS, job.message
    assert sorted(p.name for p in (root / "out").iterdir()) == ["x.hyper"]  # the old one's second name is gone
    assert len(read_hyper(root / "out" / "x.hyper")[1]) == 2


def test_publish_to_tableau_server(root):
    with LocalServer() as server:
        base = "/api/3.19"
        server.route("POST", f"{base}/auth/signin", body=json.dumps(
            {"credentials": {"token": "T0K", "site": {"id": "site-1"}}}).encode())
        server.route("GET", f"{base}/sites/site-1/projects", body=json.dumps(
            {"projects": {"project": [{"id": "proj-9", "name": "Sales"}]}}).encode())
        server.route("POST", f"{base}/sites/site-1/datasources", status=201, body=b'{"datasource": {"id": "d"}}')
        server.route("POST", f"{base}/auth/signout", status=204)
        job, _, log = run_config(root, "tableau-writer", "t", {
            "output_dir": "out", "tables": [{"source": "out.c-r.mixed"}],
            "publish": {"server_url": server.url, "site": "acme", "project": "Sales", "token_name": "kbc",
                        "#token": "env:TABLEAU_TEST_TOKEN"}})
        assert job.status is JobStatus.ERROR and "TABLEAU_TEST_TOKEN is not set" in job.tasks[0].message
        import os

        os.environ["TABLEAU_TEST_TOKEN"] = "s3cret-token"
        try:
            job, _, log = run_config(root, "tableau-writer", "t")
        finally:
            del os.environ["TABLEAU_TEST_TOKEN"]
        assert job.status is JobStatus.SUCCESS, job.message
        signin, projects, publish, signout = server.requests
        assert json.loads(signin.body) == {"credentials": {"personalAccessTokenName": "kbc",
                                                           "personalAccessTokenSecret": "s3cret-token",
                                                           "site": {"contentUrl": "acme"}}}
        assert projects.path.endswith("projects?filter=name%3Aeq%3ASales") and projects.headers["X-Tableau-Auth"] == "T0K"
        assert publish.path.endswith("datasources?overwrite=true&datasourceType=hyper")
        assert publish.headers["Content-Type"].startswith("multipart/mixed; boundary=")
        assert b'<datasource name="mixed"><project id="proj-9"/>' in publish.body
        assert b'filename="mixed.hyper"' in publish.body and (root / "out" / "mixed.hyper").read_bytes() in publish.body
        assert signout.path.endswith("/auth/signout")
        assert not any("s3cret-token" in line for line in log)


@pytest.fixture(params=["postgresql", "mariadb"])
def target(request, unique):
    url = request.getfixturevalue("pg_url" if request.param == "postgresql" else "mysql_url")
    engine = sa.create_engine(url)
    name = f"w_{unique}"
    yield request.param, url, engine, name
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    engine.dispose()


def test_db_writer_full_then_incremental(root, target):
    kind, url, engine, name = target
    job, storage, _ = run_config(root, "db-writer", "w", {"url": url, "tables": [
        {"source": "out.c-r.mixed", "table": name}]})
    assert job.status is JobStatus.SUCCESS, job.message
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT id, small, amount, flag, day, at, label FROM {name} ORDER BY id")).all()
    assert rows[0] == (1, 1, Decimal("12345678901234.5678"), True, dt.date(2024, 2, 29),
                       dt.datetime(2026, 2, 28, 13, 45, 1, 123456), "Příliš žluťoučký kůň 🐎")
    assert rows[1][1:4] == (None, None, False) and rows[1][6] == ""
    columns = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns(name)}
    assert isinstance(columns["amount"], sa.Numeric) and (columns["amount"].precision, columns["amount"].scale) == (18, 4)
    # incremental: id 3 changes, id 4 is new; upsert by the primary key
    DuckDBStorage(root / ".kbc" / "storage.duckdb").write_arrow("out.c-r.delta", pa.table({
        "id": [3, 4], "label": ["three", "four"]}))
    job, _, _ = run_config(root, "db-writer", "w2", {"url": url, "tables": [
        {"source": "out.c-r.delta", "table": f"{name}_inc", "incremental": True, "primary_key": ["id"]}]})
    assert job.status is JobStatus.SUCCESS, job.message
    DuckDBStorage(root / ".kbc" / "storage.duckdb").write_arrow("out.c-r.delta", pa.table({
        "id": [4, 5], "label": ["FOUR", "five"]}))
    job, _, _ = run_config(root, "db-writer", "w2")
    assert job.status is JobStatus.SUCCESS, job.message
    with engine.begin() as conn:
        assert conn.execute(sa.text(f"SELECT id, label FROM {name}_inc ORDER BY id")).all() == [
            (3, "three"), (4, "FOUR"), (5, "five")]
        conn.execute(sa.text(f"DROP TABLE {name}_inc"))


def test_db_writer_failure_keeps_the_old_table(root, pg_url, unique):
    engine = sa.create_engine(pg_url)
    name = f"keep_{unique}"
    try:
        assert run_config(root, "db-writer", "w", {"url": pg_url, "tables": [
            {"source": "out.c-r.mixed", "table": name}]})[0].status is JobStatus.SUCCESS
        job, _, _ = run_config(root, "db-writer", "w", {"url": pg_url, "tables": [
            {"source": "out.c-r.mixed", "table": name}, {"source": "out.c-r.nope", "table": f"{name}_2"}]})
        assert job.status is JobStatus.ERROR
        with engine.connect() as conn:
            assert conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar() == 3
            assert not sa.inspect(conn).has_table(f"{name}__kbc_new")
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        engine.dispose()


def test_gooddata_writer_loads_then_notifies(root, pg_url, unique):
    engine = sa.create_engine(pg_url)
    name = f"gd_{unique}"
    try:
        with LocalServer() as server:
            path = "/api/v1/actions/dataSources/warehouse/uploadNotification"
            server.route("POST", path, status=204)
            import os

            os.environ["GD_TEST_TOKEN"] = "gd-secret"
            try:
                job, _, log = run_config(root, "gooddata-writer", "gd", {"url": pg_url, "tables": [
                    {"source": "out.c-r.mixed", "table": name}], "gooddata": {
                    "host": server.url, "workspace_id": "sales", "data_source_id": "warehouse",
                    "#token": "env:GD_TEST_TOKEN"}})
            finally:
                del os.environ["GD_TEST_TOKEN"]
            assert job.status is JobStatus.SUCCESS, job.message
            [request] = server.requests
            assert request.path == path and request.headers["Authorization"] == "Bearer gd-secret"
            assert not any("gd-secret" in line for line in log)
            server.route("POST", path, status=401)
            os.environ["GD_TEST_TOKEN"] = "bad"
            try:
                job, _, _ = run_config(root, "gooddata-writer", "gd")
            finally:
                del os.environ["GD_TEST_TOKEN"]
            assert job.status is JobStatus.ERROR and "GoodData refused the token" in job.tasks[0].message
        with engine.connect() as conn:
            assert conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar() == 3
        job, _, log = run_config(root, "gooddata-writer", "plain", {"url": pg_url, "tables": [
            {"source": "out.c-r.mixed", "table": name}]})
        assert job.status is JobStatus.SUCCESS and any("No GoodData host configured" in line for line in log)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        engine.dispose()
