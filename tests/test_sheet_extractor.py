"""sheet-extractor against a real HTTP server on 127.0.0.1."""

import pytest

from kbc_tui.model.job import JobStatus
from tests.helpers.components import run_config
from tests.helpers.projects import project
from tests.servers.http import LocalServer

CSV = "Month,Region,Revenue Target\n2026-01,North,2800\n2026-01,South,\"2,200\"\n"


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


@pytest.fixture
def root(tmp_path):
    return project(tmp_path / "p")


def test_google_sheet_export_url_and_sanitized_columns(server, root):
    server.route("GET", "/spreadsheets/d/abc123/export", body=CSV.encode(), headers={"Content-Type": "text/csv"})
    job, storage, log = run_config(root, "sheet-extractor", "s", {
        "spreadsheet_id": "abc123", "sheet_gid": 7, "base_url": server.url, "output": "in.c-sheets.targets"})
    assert job.status is JobStatus.SUCCESS, job.message
    assert server.requests[0].path == "/spreadsheets/d/abc123/export?format=csv&gid=7"
    columns, rows = storage.preview("in.c-sheets.targets")
    assert columns == ["Month", "Region", "Revenue_Target"]
    assert rows == [("2026-01", "North", "2800"), ("2026-01", "South", "2,200")]
    assert any("'Revenue Target' renamed to 'Revenue_Target'" in line for line in log)


def test_duplicate_and_empty_headers(server, root):
    server.route("GET", "/x.csv", body="id,name,name,,Na-me!\n1,a,b,c,d\n".encode())
    job, storage, _ = run_config(root, "sheet-extractor", "s", {"url": f"{server.url}/x.csv", "output": "in.c-s.x"})
    assert job.status is JobStatus.SUCCESS, job.message
    assert storage.preview("in.c-s.x")[0] == ["id", "name", "name_2", "col_4", "Na_me"]


def test_non_utf8_file(server, root):
    server.route("GET", "/cz.csv", body="město,počet\nPlzeň,3\nČeské Budějovice,4\n".encode("cp1250"))
    job, storage, _ = run_config(root, "sheet-extractor", "s", {
        "url": f"{server.url}/cz.csv", "output": "in.c-s.cz", "encoding": "cp1250"})
    assert job.status is JobStatus.SUCCESS, job.message
    assert storage.preview("in.c-s.cz")[1] == [("Plzeň", "3"), ("České Budějovice", "4")]
    bad, _, _ = run_config(root, "sheet-extractor", "s2", {"url": f"{server.url}/cz.csv", "output": "in.c-s.cz"})
    assert bad.status is JobStatus.ERROR and "not valid utf-8 text" in bad.tasks[0].message
    assert storage.preview("in.c-s.cz")[1][0] == ("Plzeň", "3")  # the failed run left the table alone


def test_fifty_megabyte_csv(server, root, tmp_path):
    big = tmp_path / "big.csv"
    with big.open("w") as fh:
        fh.write("id,name,amount,comment\n")
        line = 0
        while fh.tell() < 50 * 1024 * 1024:
            fh.write(f"{line},name {line},{line * 1.25:.2f},\"a comment, with a comma and \"\"quotes\"\"\"\n")
            line += 1
    server.route("GET", "/big.csv", body=big)
    job, storage, _ = run_config(root, "sheet-extractor", "s", {"url": f"{server.url}/big.csv", "output": "in.c-s.big"})
    assert job.status is JobStatus.SUCCESS, job.message
    assert storage.table("in.c-s.big").rows == line
    assert storage.preview("in.c-s.big", 1)[1][0] == ("0", "name 0", "0.00", 'a comment, with a comma and "quotes"')


@pytest.mark.parametrize("status, route, expected", [
    (403, "/spreadsheets/d/private/export", "the sheet is not shared"),
    (404, "/spreadsheets/d/private/export", "check spreadsheet_id and sheet_gid"),
    (200, "/spreadsheets/d/private/export", "returned a web page (HTML), not CSV"),
])
def test_http_problems_in_words(server, root, status, route, expected):
    body = b"<!DOCTYPE html><html><body>Sign in</body></html>" if status == 200 else b"no"
    server.route("GET", route, status=status, body=body, headers={"Content-Type": "text/html"})
    job, storage, _ = run_config(root, "sheet-extractor", "s", {
        "spreadsheet_id": "private", "base_url": server.url, "output": "in.c-s.p"})
    assert job.status is JobStatus.ERROR
    assert expected in job.tasks[0].message


def test_timeout_in_words(server, root):
    server.route("GET", "/slow.csv", body=b"a\n1\n", delay=3)
    job, _, _ = run_config(root, "sheet-extractor", "s", {
        "url": f"{server.url}/slow.csv", "output": "in.c-s.slow", "timeout_seconds": 1})
    assert job.status is JobStatus.ERROR and "timed out after 1 s" in job.tasks[0].message


def test_invalid_configuration(root):
    job, _, _ = run_config(root, "sheet-extractor", "s", {"url": "ftp://x", "path": "a.csv", "output": "bad"})
    assert job.status is JobStatus.ERROR
    message = job.tasks[0].message
    assert "exactly one source" in message and "http://" in message and "invalid table id" in message


def test_manual_csv_upload_loads_a_file_but_is_never_a_task(root):
    from kbc_tui.store import Project

    (root / "data").mkdir()
    (root / "data" / "prices.csv").write_text("sku;price\nA;1.5\n")
    job, storage, _ = run_config(root, "csv-upload", "prices", {"path": "data/prices.csv", "delimiter": ";",
                                                                 "output": "in.c-manual.prices"})
    assert job.status is JobStatus.ERROR and "manual component" in job.tasks[0].message
    assert not any(c.component == "csv-upload" for cs in Project.load(root).automatable_components().values()
                   for c in cs)


def test_csv_upload_itself_loads_the_file(root):
    import asyncio

    from kbc_tui.components import get_component
    from kbc_tui.components.base import CancelToken, RunContext
    from kbc_tui.model.component import ComponentConfig
    from kbc_tui.storage.duckdb_storage import DuckDBStorage

    class Log:
        def __init__(self):
            self.lines = []

        def debug(self, t): self.lines.append(t)
        info = warning = error = debug

    (root / "data").mkdir()
    (root / "data" / "prices.csv").write_text("sku;unit price\nA;1.5\nB;2\n")
    params = {"path": "data/prices.csv", "delimiter": ";", "output": "in.c-manual.prices"}
    storage = DuckDBStorage(root / ".kbc" / "storage.duckdb")
    ctx = RunContext(ComponentConfig("csv-upload", "prices", "Prices", params), params, storage, Log(),
                     CancelToken(), root, root / ".kbc")
    result = asyncio.run(get_component("csv-upload").run(ctx))
    assert result.rows == 2
    assert storage.preview("in.c-manual.prices") == (["sku", "unit_price"], [("A", "1.5"), ("B", "2")])
