"""db-extractor against the real PostgreSQL and MariaDB services (and SQLite)."""

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from kbc_tui.model.job import JobStatus
from tests.helpers.components import run_config
from tests.helpers.projects import project

UNICODE = "Příliš žluťoučký kůň úpěl ďábelské ódy 🐎"


@pytest.fixture(params=["postgresql", "mariadb"])
def db(request, unique):
    url = request.getfixturevalue("pg_url" if request.param == "postgresql" else "mysql_url")
    engine = sa.create_engine(url)
    created: list[str] = []
    yield request.param, url, engine, unique, created
    with engine.begin() as conn:
        for table in created:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()


def create_types_table(kind, engine, name):
    if kind == "postgresql":
        ddl = (f"CREATE TABLE {name} (id integer PRIMARY KEY, small smallint, big bigint, amount numeric(18,4), "
               "flag boolean, day date, at_local timestamp, at_zone timestamptz, label text)")
        zone = "'2026-02-28 13:45:01.123456+01'"
    else:
        ddl = (f"CREATE TABLE {name} (id int PRIMARY KEY, small smallint, big bigint, amount decimal(18,4), "
               "flag boolean, day date, at_local datetime(6), at_zone datetime(6), label text) CHARSET utf8mb4")
        zone = "'2026-02-28 12:45:01.123456'"
    with engine.begin() as conn:
        conn.execute(sa.text(ddl))
        conn.execute(sa.text(
            f"INSERT INTO {name} VALUES (1, -7, 9007199254740993, 12345678901234.5678, true, '2024-02-29', "
            f"'2026-02-28 13:45:01.123456', {zone}, :label), "
            "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
            "(3, 32767, -9223372036854775808, -0.0001, false, '1970-01-01', '1999-12-31 23:59:59', "
            + ("'1999-12-31 23:59:59+00'" if kind == "postgresql" else "'1999-12-31 23:59:59'") + ", '')"),
            {"label": UNICODE})


def test_every_type_round_trips_exactly(db, tmp_path):
    kind, url, engine, u, created = db
    name = f"types_{u}"
    created.append(name)
    create_types_table(kind, engine, name)
    root = project(tmp_path / "p")
    job, storage, log = run_config(root, "db-extractor", "src", {
        "url": url, "tables": [{"name": "types", "table": name, "output": "in.c-db.types", "primary_key": ["id"]}]})
    assert job.status is JobStatus.SUCCESS, job.message
    assert any(line.endswith("; COPY)") for line in log) == (kind == "postgresql")  # PostgreSQL's fast path
    info = storage.table("in.c-db.types")
    types = {c.name: c.type for c in info.columns}
    assert types["small"] == "SMALLINT" and types["big"] == "BIGINT"
    assert types["amount"] == "DECIMAL(18,4)"
    assert types["flag"] == "BOOLEAN" and types["day"] == "DATE"
    assert types["at_local"] == "TIMESTAMP"
    assert types["at_zone"] == ("TIMESTAMP WITH TIME ZONE" if kind == "postgresql" else "TIMESTAMP")
    assert types["label"] == "VARCHAR"
    rows = {r[0]: r for r in storage.preview("in.c-db.types")[1]}
    one = rows[1]
    assert one[1:7] == (-7, 9007199254740993, Decimal("12345678901234.5678"), True, dt.date(2024, 2, 29),
                        dt.datetime(2026, 2, 28, 13, 45, 1, 123456))
    if kind == "postgresql":
        assert one[7] == dt.datetime(2026, 2, 28, 12, 45, 1, 123456, tzinfo=dt.timezone.utc)
    assert one[8] == UNICODE
    assert rows[2][1:] == (None,) * 8
    assert rows[3][1:6] == (32767, -9223372036854775808, Decimal("-0.0001"), False, dt.date(1970, 1, 1))
    assert rows[3][8] == ""  # empty text stays empty, not NULL
    assert info.primary_key == ["id"]


def test_incremental_fetching_gets_only_new_rows_and_upserts(db, tmp_path):
    kind, url, engine, u, created = db
    name = f"inc_{u}"
    created.append(name)
    ts = "timestamp" if kind == "postgresql" else "datetime(6)"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {name} (id int PRIMARY KEY, value varchar(20), updated_at {ts})"))
        for i in range(1, 11):
            conn.execute(sa.text(f"INSERT INTO {name} VALUES ({i}, 'v{i}', '2026-01-{i:02d} 10:00:00')"))
    root = project(tmp_path / "p")
    params = {"url": url, "tables": [{"name": "inc", "table": name, "output": "in.c-db.inc", "primary_key": ["id"],
                                      "incremental_fetching_column": "updated_at"}]}
    job, storage, _ = run_config(root, "db-extractor", "src", params)
    assert job.status is JobStatus.SUCCESS and job.tasks[0].rows == 10
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {name} SET value = 'changed', updated_at = '2026-02-01 00:00:00' WHERE id = 2"))
        conn.execute(sa.text(f"INSERT INTO {name} VALUES (11, 'v11', '2026-02-02 00:00:00')"))
    job, storage, log = run_config(root, "db-extractor", "src")
    assert job.status is JobStatus.SUCCESS, job.message
    assert job.tasks[0].rows == 3  # id 2, id 11, and the boundary row (updated_at >= the last value)
    rows = dict((r[0], r[1]) for r in storage.preview("in.c-db.inc")[1])
    assert len(rows) == 11 and rows[2] == "changed" and rows[11] == "v11"
    assert any("since updated_at >=" in line for line in log)


def test_postgresql_generic_path_gives_the_same_types(pg_url, unique, tmp_path):
    engine = sa.create_engine(pg_url)
    name = f"types_{unique}"
    try:
        create_types_table("postgresql", engine, name)
        root = project(tmp_path / "p")
        results = []
        for fast in (True, False):
            job, storage, log = run_config(root, "db-extractor", f"src-{fast}".lower(), {"url": pg_url, "tables": [
                {"name": "types", "table": name, "output": f"in.c-db.types_{fast}", "fast": fast}]})
            assert job.status is JobStatus.SUCCESS, job.message
            info = storage.table(f"in.c-db.types_{fast}")
            results.append(([(c.name, c.type) for c in info.columns], sorted(storage.preview(str(info.id))[1])))
        assert results[0] == results[1]
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        engine.dispose()


def test_custom_query(db, tmp_path):
    kind, url, engine, u, created = db
    name = f"q_{u}"
    created.append(name)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {name} (id int, amount decimal(10,2))"))
        conn.execute(sa.text(f"INSERT INTO {name} VALUES (1, 10.50), (2, 20.25), (3, 1.00)"))
    root = project(tmp_path / "p")
    job, storage, _ = run_config(root, "db-extractor", "q", {"url": url, "tables": [
        {"name": "big", "query": f"SELECT id, amount FROM {name} WHERE amount > 5 ORDER BY id", "output": "in.c-db.big"}]})
    assert job.status is JobStatus.SUCCESS, job.message
    assert storage.preview("in.c-db.big")[1] == [(1, Decimal("10.50")), (2, Decimal("20.25"))]


@pytest.mark.slow
def test_a_million_rows(pg_url, unique, tmp_path):
    engine = sa.create_engine(pg_url)
    name = f"big_{unique}"
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE {name} AS SELECT g AS id, md5(g::text) AS s, (g * 1.5)::numeric(12,2) "
                                 "AS n, timestamp '2026-01-01' + g * interval '1 second' AS ts "
                                 "FROM generate_series(1, 1000000) g"))
        root = project(tmp_path / "p")
        job, storage, _ = run_config(root, "db-extractor", "big", {"url": pg_url, "tables": [
            {"name": "big", "table": name, "output": "in.c-db.big"}]})
        assert job.status is JobStatus.SUCCESS, job.message
        assert storage.table("in.c-db.big").rows == 1_000_000
        with storage.connect() as con:
            assert con.execute('SELECT sum(n), max(ts) FROM "in.c-db"."big"').fetchall()[0] == (
                Decimal("750000750000.00"), dt.datetime(2026, 1, 12, 13, 46, 40))
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        engine.dispose()


def test_clear_messages_for_bad_input(pg_url, mysql_url, tmp_path):
    root = project(tmp_path / "p")
    cases = [
        (mysql_url.replace("root@", "root:wrong-pass@"), "t", "cannot log in to mysql at 127.0.0.1:3306 as 'root'"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/test", "t", "cannot connect to postgresql at 127.0.0.1:1"),
        (pg_url.rsplit("/", 1)[0] + "/no_such_db_kbc", "t", "database 'no_such_db_kbc' does not exist"),
        (pg_url, "no_such_table_kbc", "table 'no_such_table_kbc' not found"),
        (mysql_url, "no_such_table_kbc", "table 'no_such_table_kbc' not found"),
    ]
    for i, (url, table, expected) in enumerate(cases):
        job, _, log = run_config(root, "db-extractor", f"bad{i}", {"url": url, "tables": [
            {"name": "t", "table": table, "output": "in.c-db.t"}]})
        assert job.status is JobStatus.ERROR
        message = job.tasks[0].message
        assert expected in message, message
        assert "\n" not in message and "Traceback" not in "\n".join(log)
        assert "wrong-pass" not in message and not any("wrong-pass" in line for line in log)


def test_sqlite_source_relative_to_the_project(tmp_path):
    root = project(tmp_path / "p")
    (root / "data").mkdir()
    engine = sa.create_engine(f"sqlite:///{root / 'data' / 'src.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, price NUMERIC(10, 2), at TIMESTAMP)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1, 20.1, '2026-05-05 00:07:00')"))
    engine.dispose()
    job, storage, _ = run_config(root, "db-extractor", "lite", {"url": "sqlite:///data/src.sqlite", "tables": [
        {"name": "t", "table": "t", "output": "in.c-lite.t"}]})
    assert job.status is JobStatus.SUCCESS, job.message
    assert storage.preview("in.c-lite.t")[1] == [(1, Decimal("20.10"), dt.datetime(2026, 5, 5, 0, 7))]


def test_test_connection(pg_url, tmp_path):
    from kbc_tui.components.db_extractor import test_connection
    from kbc_tui.errors import ComponentError

    assert test_connection({"url": pg_url}, tmp_path).startswith("connected to postgresql")
    with pytest.raises(ComponentError, match="cannot connect"):
        test_connection({"url": "postgresql+psycopg://postgres@127.0.0.1:1/test"}, tmp_path)


def _sqlite_source(root, ddl: str, rows: str) -> str:
    (root / "data").mkdir(exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{root / 'data' / 'src.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text(ddl))
        conn.execute(sa.text(rows))
    engine.dispose()
    return "sqlite:///data/src.sqlite"


def test_sqlite_fast_path_gives_the_same_table_as_the_generic_path(tmp_path):
    root = project(tmp_path / "p")
    url = _sqlite_source(root, "CREATE TABLE t (id INTEGER PRIMARY KEY, small SMALLINT, big BIGINT, price NUMERIC(10, 2), "
                         "ratio FLOAT, flag BOOLEAN, day DATE, at TIMESTAMP, label VARCHAR(20), raw BLOB)",
                         "INSERT INTO t VALUES (1, -7, 9007199254740993, 20.1, 1.5, 1, '2024-02-29', "
                         f"'2026-02-28 13:45:01.123456', '{UNICODE}', x'00ff'), "
                         "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
                         "(3, 32767, -9223372036854775808, 1.255, -0.5, 0, '1970-01-01', '1999-12-31 23:59:59', '', x'')")
    results = []
    for fast in (True, False):
        job, storage, log = run_config(root, "db-extractor", f"lite-{fast}".lower(), {"url": url, "tables": [
            {"name": "t", "table": "t", "output": f"in.c-lite.t_{fast}".lower(), "fast": fast}]})
        assert job.status is JobStatus.SUCCESS, job.message
        assert any(line.endswith("; ConnectorX)") for line in log) == fast
        info = storage.table(f"in.c-lite.t_{fast}".lower())
        results.append(([(c.name, c.type) for c in info.columns], sorted(storage.preview(str(info.id))[1])))
    assert results[0] == results[1]
    assert results[0][1][0][1:9] == (-7, 9007199254740993, Decimal("20.10"), 1.5, True, dt.date(2024, 2, 29),
                                     dt.datetime(2026, 2, 28, 13, 45, 1, 123456), UNICODE)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("column, value, found", [("amount INTEGER", "'abc'", "integers and text"),
                                                  ("amount DATE", "'garbage'", "text"),
                                                  ("amount NUMERIC(10, 2)", "'n/a'", "integers and text")])
def test_sqlite_mixed_types_end_in_words(tmp_path, fast, column, value, found):
    root = project(tmp_path / "p")
    first = "'2024-01-01'" if "DATE" in column else "5"
    url = _sqlite_source(root, f"CREATE TABLE orders (id INTEGER PRIMARY KEY, {column})",
                         "INSERT INTO orders WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g "
                         f"WHERE i < 2500) SELECT i, CASE WHEN i = 2400 THEN {value} ELSE {first} END FROM g")
    job, _, log = run_config(root, "db-extractor", "lite", {"url": url, "tables": [
        {"name": "orders", "table": "orders", "output": "in.c-lite.orders", "fast": fast}]})
    assert job.status is JobStatus.ERROR
    message = job.tasks[0].message
    assert f"column 'amount' in table 'orders' holds {found} (SQLite allows that)" in message, message
    assert f"e.g. {value}" in message and 'query = "SELECT CAST(amount AS TEXT) AS amount' in message, message
    assert "Arrow" not in message and "\n" not in message and "Traceback" not in "\n".join(log)
    assert sum("the fast path cannot read it" in line for line in log) == (1 if fast else 0)
