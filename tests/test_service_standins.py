"""The writers and the sheet extractor against stand-ins that refuse requests the way Tableau, GoodData and
Google do (tests/servers/tableau.py, tests/servers/services.py say what each enforces and where it is documented).
The stand-ins' own refusals are checked first, so a passing publish test means the request was right."""

import json
import os

import httpx
import pyarrow as pa
import pytest

from kbc_tui.model.job import JobStatus
from kbc_tui.storage.duckdb_storage import DuckDBStorage
from tests.helpers.components import run_config
from tests.helpers.projects import project
from tests.servers.services import GoodDataStandIn, SheetsStandIn
from tests.servers.tableau import VERSION, TableauStandIn


@pytest.fixture
def root(tmp_path):
    root = project(tmp_path / "p")
    DuckDBStorage(root / ".kbc" / "storage.duckdb").write_arrow(
        "out.c-r.mixed", pa.table({"id": [1, 2, 3], "label": ["a", "b", None]}), primary_key=["id"])
    return root


@pytest.fixture
def env():
    added = []

    def put(name, value):
        os.environ[name] = value
        added.append(name)

    yield put
    for name in added:
        os.environ.pop(name, None)


# --- the Tableau stand-in refuses what Tableau refuses -------------------------------------------------------

def _signed_in(server):
    with httpx.Client(base_url=f"{server.url}/api/{VERSION}") as client:
        r = client.post("/auth/signin", json={"credentials": {
            "personalAccessTokenName": "kbc", "personalAccessTokenSecret": "s3cret-token", "site": {"contentUrl": "acme"}}})
        assert r.status_code == 200
        return r.json()["credentials"]["token"]


def _mixed(*parts):
    body = b""
    for headers, data in parts:
        body += b"--B\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n" + data + b"\r\n"
    return body + b"--B--\r\n"


PAYLOAD = ({"Content-Disposition": 'name="request_payload"', "Content-Type": "text/xml"},
           b'<tsRequest><datasource name="x"><project id="proj-9"/></datasource></tsRequest>')


def _file_part(name="tableau_datasource", content_type="application/octet-stream", data=b"HYPER"):
    return {"Content-Disposition": f'name="{name}"; filename="x.hyper"', "Content-Type": content_type}, data


@pytest.mark.parametrize("change, status", [
    ({}, 201),
    ({"part": "tableau_file"}, 400),  # the single-call publish names the file part tableau_datasource
    ({"part_type": "text/plain"}, 400),
    ({"content_type": "multipart/form-data; boundary=B"}, 415),
    ({"auth": None}, 401),
    ({"auth": "forged"}, 401),
])
def test_tableau_stand_in_refuses_a_malformed_publish(change, status):
    with TableauStandIn() as server:
        token = _signed_in(server)
        headers = {"Content-Type": change.get("content_type", "multipart/mixed; boundary=B")}
        auth = change.get("auth", token)
        if auth:
            headers["X-Tableau-Auth"] = auth
        body = _mixed(PAYLOAD, _file_part(change.get("part", "tableau_datasource"),
                                          change.get("part_type", "application/octet-stream")))
        r = httpx.post(f"{server.url}/api/{VERSION}/sites/site-1/datasources?overwrite=true", content=body,
                       headers=headers)
        assert r.status_code == status, r.text
        assert (server.published == {"x": b"HYPER"}) == (status == 201)


def test_tableau_stand_in_limits_one_request_to_64_mb_and_assembles_parts_in_order():
    with TableauStandIn() as server:
        token = _signed_in(server)
        api = f"{server.url}/api/{VERSION}/sites/site-1"
        auth = {"X-Tableau-Auth": token}
        big = _mixed(PAYLOAD, _file_part(data=b"\0" * (64 * 1024 * 1024 + 1)))
        r = httpx.post(f"{api}/datasources", content=big, headers={**auth, "Content-Type": "multipart/mixed; boundary=B"})
        assert r.status_code == 413 and not server.published
        upload = httpx.post(f"{api}/fileUploads", headers=auth).json()["fileUpload"]["uploadSessionId"]
        for chunk in (b"one,", b"two,", b"three"):
            r = httpx.put(f"{api}/fileUploads/{upload}", headers={**auth, "Content-Type": "multipart/mixed; boundary=B"},
                          content=_mixed(({"Content-Disposition": 'name="request_payload"', "Content-Type": "text/xml"}, b""),
                                         ({"Content-Disposition": 'name="tableau_file"; filename="file"',
                                           "Content-Type": "application/octet-stream"}, chunk)))
            assert r.status_code == 200, r.text
        r = httpx.post(f"{api}/datasources?uploadSessionId={upload}&datasourceType=hyper&overwrite=true",
                       headers={**auth, "Content-Type": "multipart/mixed; boundary=B"}, content=_mixed(PAYLOAD))
        assert r.status_code == 201, r.text
        assert server.published == {"x": b"one,two,three"}


# --- the product against the stand-ins -------------------------------------------------------------------------

def test_tableau_writer_publishes_what_tableau_accepts(root, env):
    env("TABLEAU_TEST_TOKEN", "s3cret-token")
    with TableauStandIn() as server:
        params = {"output_dir": "out", "tables": [{"source": "out.c-r.mixed"}],
                  "publish": {"server_url": server.url, "site": "acme", "project": "Sales", "token_name": "kbc",
                              "#token": "env:TABLEAU_TEST_TOKEN"}}
        job, _, log = run_config(root, "tableau-writer", "t", params)
        assert job.status is JobStatus.SUCCESS, (job.tasks[0].message, server.refusals)
        assert not server.refusals
        assert server.published == {"mixed": (root / "out" / "mixed.hyper").read_bytes()}
        assert not server.sessions, "signed out"
        # CreateNew does not replace a data source that exists: Tableau answers 409 and the task says so
        params["publish"]["mode"] = "CreateNew"
        job, _, _ = run_config(root, "tableau-writer", "t", params)
        assert job.status is JobStatus.ERROR and "HTTP 409" in job.tasks[0].message
        assert not server.sessions, "signed out after the failure too"


def test_tableau_writer_with_a_wrong_token_fails_in_words(root, env):
    env("TABLEAU_TEST_TOKEN", "wrong")
    with TableauStandIn() as server:
        job, _, _ = run_config(root, "tableau-writer", "t", {
            "output_dir": "out", "tables": [{"source": "out.c-r.mixed"}],
            "publish": {"server_url": server.url, "site": "acme", "token_name": "kbc", "#token": "env:TABLEAU_TEST_TOKEN"}})
        assert job.status is JobStatus.ERROR
        assert "Tableau refused sign-in (HTTP 401)" in job.tasks[0].message and not server.published


def test_gooddata_writer_notifies_the_data_source_with_its_token(root, env):
    with GoodDataStandIn(token="gd-secret", data_sources=("warehouse",)) as server:
        params = {"url": "sqlite:///gd.sqlite", "tables": [{"source": "out.c-r.mixed", "table": "mixed"}],
                  "gooddata": {"host": server.url, "data_source_id": "warehouse", "#token": "env:GD_TEST_TOKEN"}}
        env("GD_TEST_TOKEN", "gd-secret")
        job, _, log = run_config(root, "gooddata-writer", "gd", params)
        assert job.status is JobStatus.SUCCESS, job.tasks[0].message
        assert server.notified == ["warehouse"]
        env("GD_TEST_TOKEN", "wrong")
        job, _, _ = run_config(root, "gooddata-writer", "gd")
        assert job.status is JobStatus.ERROR and "GoodData refused the token (HTTP 401)" in job.tasks[0].message
        env("GD_TEST_TOKEN", "gd-secret")
        params["gooddata"]["data_source_id"] = "nope"
        job, _, _ = run_config(root, "gooddata-writer", "gd", params)
        assert job.status is JobStatus.ERROR and "no data source 'nope'" in job.tasks[0].message
        assert server.notified == ["warehouse"]


def test_sheet_extractor_follows_googles_export_redirect(root):
    csv = b"Month,Revenue\n2026-01,2800\n2026-02,3100\n"
    with SheetsStandIn({("abc123", 7): csv, ("abc123", 0): b"other\n1\n"}, private=("secret",)) as server:
        job, storage, _ = run_config(root, "sheet-extractor", "s", {
            "spreadsheet_id": "abc123", "sheet_gid": 7, "base_url": server.url, "output": "in.c-sheets.targets"})
        assert job.status is JobStatus.SUCCESS, job.tasks[0].message
        assert storage.preview("in.c-sheets.targets") == (["Month", "Revenue"], [("2026-01", "2800"), ("2026-02", "3100")])
        job, _, _ = run_config(root, "sheet-extractor", "p", {
            "spreadsheet_id": "secret", "base_url": server.url, "output": "in.c-sheets.p"})
        assert job.status is JobStatus.ERROR and "is the sheet shared by link" in job.tasks[0].message
        job, _, _ = run_config(root, "sheet-extractor", "n", {
            "spreadsheet_id": "gone", "base_url": server.url, "output": "in.c-sheets.n"})
        assert job.status is JobStatus.ERROR and "check spreadsheet_id and sheet_gid" in job.tasks[0].message


@pytest.mark.slow
def test_tableau_writer_publishes_an_extract_over_64_mb_in_parts(root, env):
    """Tableau takes at most 64 MB in one request: a bigger extract goes up in parts, in order, then is committed."""
    DuckDBStorage(root / ".kbc" / "storage.duckdb").write_select(
        "out.c-r.big", "select range as id, md5(range::varchar) as label from range(2000000)")
    env("TABLEAU_TEST_TOKEN", "s3cret-token")
    with TableauStandIn() as server:
        job, _, log = run_config(root, "tableau-writer", "t", {
            "output_dir": "out", "tables": [{"source": "out.c-r.big"}],
            "publish": {"server_url": server.url, "site": "acme", "project": "Sales", "token_name": "kbc",
                        "#token": "env:TABLEAU_TEST_TOKEN"}})
        assert job.status is JobStatus.SUCCESS, (job.tasks[0].message, server.refusals)
        extract = (root / "out" / "big.hyper").read_bytes()
        assert len(extract) > 64 * 1024 * 1024
        assert server.published["big"] == extract
        appends = [r for r in server.requests if r.method == "PUT"]
        assert len(appends) >= 2 and not server.uploads, "uploaded in parts and committed"
        assert not server.sessions
