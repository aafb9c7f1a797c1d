"""sheet-extractor parses the download while it arrives: a download cut short, text that is not UTF-8 or not CSV
half-way, or a cancel mid-download fail cleanly and leave the previous table (and no pipe) behind."""


import pyarrow as pa
import pytest

from kbc_tui.model.job import JobStatus
from kbc_tui.storage.duckdb_storage import DuckDBStorage
from tests.helpers.components import cancel_mid_task, run_config, write_config
from tests.helpers.projects import project
from tests.servers.http import LocalServer

OLD = pa.table({"old": ["kept"]})


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


@pytest.fixture
def root(tmp_path):
    root = project(tmp_path / "p")
    DuckDBStorage(root / ".kbc" / "storage.duckdb").write_arrow("in.c-s.t", OLD)
    return root


def big_csv(path, megabytes, tail=b""):
    with path.open("wb") as fh:
        fh.write(b"id,name,comment\n")
        line = 0
        while fh.tell() < megabytes * 1024 * 1024:
            fh.write(f'{line},name {line},"a comment, with a comma and ""quotes"""\n'.encode())
            line += 1
        fh.write(tail)
    return line


def extract(server, root, name, **extra):
    return run_config(root, "sheet-extractor", "s", {"url": f"{server.url}/{name}", "output": "in.c-s.t", **extra})


def kept(root, storage):
    return storage.preview("in.c-s.t")[1] == [("kept",)] and not list((root / ".kbc" / "tmp").glob("feed-*"))


def test_a_download_cut_short_fails_and_keeps_the_old_table(server, root, tmp_path):
    big_csv(tmp_path / "big.csv", 8)
    server.route("GET", "/big.csv", body=tmp_path / "big.csv", cut_after=5 * 1024 * 1024 + 17)
    job, storage, _ = extract(server, root, "big.csv")
    assert job.status is JobStatus.ERROR and "cannot download" in job.tasks[0].message
    assert kept(root, storage)


def test_text_that_stops_being_utf8_half_way_fails_and_keeps_the_old_table(server, root, tmp_path):
    big_csv(tmp_path / "big.csv", 6, tail="99,Plzeň,x\n".encode("cp1250"))
    server.route("GET", "/big.csv", body=tmp_path / "big.csv")
    job, storage, _ = extract(server, root, "big.csv")
    assert job.status is JobStatus.ERROR and "not valid utf-8 text" in job.tasks[0].message
    assert kept(root, storage)


def test_text_that_stops_being_csv_half_way_fails_and_keeps_the_old_table(server, root, tmp_path):
    big_csv(tmp_path / "big.csv", 6, tail=b'99,"an open quote,x\n')
    server.route("GET", "/big.csv", body=tmp_path / "big.csv")
    job, storage, _ = extract(server, root, "big.csv")
    assert job.status is JobStatus.ERROR and "cannot load the CSV" in job.tasks[0].message
    assert kept(root, storage)


def test_transcoded_download_and_head_records_with_line_breaks(server, root):
    server.route("GET", "/cz.csv", body='"město\nobec",počet\nPlzeň,3\n"České\nBudějovice",4'.encode("cp1250"))
    job, storage, log = extract(server, root, "cz.csv", encoding="cp1250")
    assert job.status is JobStatus.SUCCESS, job.message
    assert storage.preview("in.c-s.t") == (["m_sto_obec", "po_et"], [("Plzeň", "3"), ("České\nBudějovice", "4")])
    server.route("GET", "/two.csv", body=b"skip me\na,b\n1,2\n")
    job, storage, log = extract(server, root, "two.csv", header=2)
    assert job.status is JobStatus.SUCCESS, job.message
    assert storage.preview("in.c-s.t") == (["a", "b"], [("1", "2")])


def test_an_empty_download_is_said_in_words(server, root):
    server.route("GET", "/empty.csv", body=b"")
    job, storage, _ = extract(server, root, "empty.csv")
    assert job.status is JobStatus.ERROR and "the file is empty" in job.tasks[0].message
    assert kept(root, storage)


@pytest.mark.slow
async def test_cancel_during_the_download_keeps_the_old_table(server, root, tmp_path):
    big_csv(tmp_path / "slow.csv", 20)
    server.route("GET", "/slow.csv", body=tmp_path / "slow.csv", chunk_delay=0.2)  # ~4 s in all
    write_config(root, "sheet-extractor", "slow", {"url": f"{server.url}/slow.csv", "output": "in.c-s.t"})
    done, took, storage = await cancel_mid_task(root, "run-sheet-extractor-slow", after=1.0)
    assert took < 2.0
    assert done.status is JobStatus.CANCELLED, done.message
    assert kept(root, storage)
