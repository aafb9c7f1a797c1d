"""Ids and paths stay inside the project (issue 11, item 6).

Ids name files: an orchestration id or a task's component / config that is not an id (``../../outside/evil``)
is refused everywhere — command line, engine, task reference — before any file is read. A relative path in
the configuration may not leave the project folder (by ``..`` or a symlink): validate reports it and a run
refuses it; absolute paths stay allowed and validate lists them.
"""

import asyncio

import pytest

from kbc_tui.components import validate_config
from kbc_tui.engine import Engine
from kbc_tui.errors import KbcError
from kbc_tui.model.job import JobStatus
from kbc_tui.store import Project
from kbc_tui.store.toml_io import dumps_toml
from tests.helpers.cli import kbc
from tests.helpers.components import run_config, write_config
from tests.helpers.projects import orchestration, project, sql_config

NOT_AN_ID = "must be 1-64 characters of lowercase letters, digits, '-' or '_', starting with a letter or digit"


@pytest.fixture
def outside(tmp_path):
    """A folder next to the project holding an orchestration and a configuration that read a secret file."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.csv").write_text("user,password\nroot,hunter2\n")
    (folder / "evil.toml").write_bytes(dumps_toml({"name": "evil", "tasks": [
        {"component": "sheet-extractor", "config": "../../../outside/x"}]}))
    (folder / "x.toml").write_bytes(dumps_toml({"name": "x", "parameters": {
        "path": str(folder / "secret.csv"), "output": "in.c-evil.secret"}}))
    return folder


@pytest.fixture
def root(tmp_path, outside):
    root = project(tmp_path / "p")
    sql_config(root, "ok", "create table t as select 1 as id;", ["t"])
    orchestration(root, "good", [["ok"]])
    return root


def lines_of(out) -> list[str]:
    return out.stdout.splitlines()


# -- ids ----------------------------------------------------------------------------------------------------

def test_run_refuses_an_orchestration_outside_the_project(root):
    out = kbc("run", "../../outside/evil", root=root)
    assert out.returncode == 1
    assert out.stderr.strip() == f"kbc-tui: orchestration id '../../outside/evil' {NOT_AN_ID}"
    assert kbc("jobs", root=root).stdout.strip() == "No jobs yet."  # nothing was queued, nothing ran


@pytest.mark.parametrize("command", [["schedule", "../outside/evil"], ["jobs", "-o", "../outside/evil"],
                                     ["run", "--no-wait", "Good"]])
def test_every_command_taking_an_orchestration_id_refuses_a_bad_one(root, command):
    out = kbc(*command, root=root)
    assert out.returncode == 1
    assert out.stderr.startswith("kbc-tui: orchestration id ") and NOT_AN_ID in out.stderr


@pytest.mark.parametrize("bad", ["../../outside/evil", "/etc/passwd", "good\n", "Good", ""])
def test_the_engine_refuses_a_bad_orchestration_id(root, bad):
    async def go():
        engine = Engine(root)
        await engine.start(scheduler=False)
        try:
            with pytest.raises(KbcError, match="orchestration id"):
                await engine.enqueue(bad)
            assert engine.list_jobs() == []
        finally:
            await engine.stop(grace=0)

    asyncio.run(go())


def test_a_task_naming_a_config_outside_components_is_refused(root, outside):
    orchestration(root, "sneaky", [[{"component": "sheet-extractor", "config": "../../../outside/x"}]])
    out = kbc("validate", root=root)
    assert out.returncode == 1
    assert lines_of(out) == [f"orchestrations/sneaky.toml:6: phases[0].tasks[0].config: "
                             f"configuration id '../../../outside/x' {NOT_AN_ID}"]
    run = kbc("run", "sneaky", root=root)
    assert run.returncode == 1
    assert "configuration id '../../../outside/x' must be" in run.stdout
    assert "hunter2" not in kbc("job", "1", "--json", root=root).stdout
    assert "in.c-evil" not in run.stdout


def test_a_task_naming_a_component_that_is_not_an_id_is_reported_once(root):
    orchestration(root, "odd", [[{"component": "../sheet-extractor", "config": "ok"}]])
    assert lines_of(kbc("validate", root=root)) == [
        f"orchestrations/odd.toml:5: phases[0].tasks[0].component: component type '../sheet-extractor' {NOT_AN_ID}"]


def test_a_configuration_file_whose_name_is_no_id_is_not_offered_as_a_task(root):
    sql_config(root, "Upper Case", "create table u as select 1 as id;", ["u"])
    project_ = Project.load(root)
    offered = [cfg.ref for group in project_.automatable_components().values() for cfg in group]
    assert offered == ["sql-transformation/ok"]
    assert any("configuration id (file name) 'Upper Case'" in str(p) for p in project_.problems)


# -- paths in component configurations ------------------------------------------------------------------------

def test_a_relative_path_leaving_the_project_is_a_validate_error_and_refused_at_run_time(root, outside):
    write_config(root, "sheet-extractor", "leak", {"path": "../outside/secret.csv", "output": "in.c-evil.secret"})
    out = kbc("validate", root=root)
    assert out.returncode == 1
    assert lines_of(out) == [
        "components/sheet-extractor/leak.toml:4: parameters.path: the relative path '../outside/secret.csv' leaves "
        f"the project folder (it leads to {outside / 'secret.csv'}); use a path inside the project, or an absolute path"]
    job, storage, log = run_config(root, "sheet-extractor", "leak")
    assert job.status is JobStatus.ERROR
    assert "parameters.path: the relative path '../outside/secret.csv' leaves the project folder" in job.tasks[0].message
    assert storage.table("in.c-evil.secret") is None


def test_a_symlink_out_of_the_project_is_refused_too(root, outside):
    (root / "data").mkdir()
    (root / "data" / "shared").symlink_to(outside, target_is_directory=True)
    write_config(root, "sheet-extractor", "linked", {"path": "data/shared/secret.csv", "output": "in.c-evil.secret"})
    problems = [p.message for p in Project.load(root, validate_config).problems]
    assert problems == [f"the relative path 'data/shared/secret.csv' leaves the project folder through a symlink "
                        f"(it leads to {outside / 'secret.csv'}); use a path inside the project, or an absolute path"]
    job, storage, _ = run_config(root, "sheet-extractor", "linked")
    assert job.status is JobStatus.ERROR and "through a symlink" in job.tasks[0].message
    assert storage.table("in.c-evil.secret") is None


def test_a_relative_sqlite_database_may_not_leave_the_project(root, tmp_path):
    write_config(root, "db-writer", "escape", {"url": "sqlite:///../outside/stolen.sqlite",
                                              "tables": [{"source": "out.c-test.t", "table": "t"}]})
    assert [(p.key, p.message.split(" (")[0]) for p in Project.load(root, validate_config).problems] == [
        ("parameters.url", "the relative path '../outside/stolen.sqlite' leaves the project folder")]
    job, _, _ = run_config(root, "db-writer", "escape")
    assert job.status is JobStatus.ERROR and "parameters.url: the relative path" in job.tasks[0].message
    assert not (tmp_path / "outside" / "stolen.sqlite").exists()


def test_tableau_output_dir_may_not_leave_the_project(root, tmp_path):
    write_config(root, "tableau-writer", "out", {"output_dir": "../../elsewhere",
                                                "tables": [{"source": "out.c-test.t"}]})
    [problem] = Project.load(root, validate_config).problems
    assert problem.key == "parameters.output_dir" and "leaves the project folder" in problem.message
    job, _, _ = run_config(root, "tableau-writer", "out")
    assert job.status is JobStatus.ERROR and "parameters.output_dir: the relative path" in job.tasks[0].message
    assert not (tmp_path.parent / "elsewhere").exists()


def test_absolute_paths_are_allowed_and_listed_by_validate(root, outside):
    write_config(root, "sheet-extractor", "abs", {"path": str(outside / "secret.csv"), "output": "in.c-x.secret"})
    write_config(root, "db-writer", "abs-db", {"url": f"sqlite:///{outside}/w.sqlite",
                                              "tables": [{"source": "out.c-test.t", "table": "t"}]})
    out = kbc("validate", root=root)
    assert out.returncode == 0, out.stdout + out.stderr
    assert lines_of(out) == [
        f"components/db-writer/abs-db.toml:4: parameters.url: note: absolute path {outside}/w.sqlite "
        "(allowed: used as given)",
        f"components/sheet-extractor/abs.toml:4: parameters.path: note: absolute path {outside / 'secret.csv'} "
        "(allowed: used as given)",
        f"{root}: OK: 3 orchestration(s), 3 component configuration(s); 2 absolute path(s), listed above"]
    job, storage, _ = run_config(root, "sheet-extractor", "abs")
    assert job.status is JobStatus.SUCCESS and storage.table("in.c-x.secret") is not None


def test_the_demo_project_has_no_absolute_paths(demo_project):
    out = kbc("validate", root=demo_project)
    assert out.returncode == 0 and "absolute path" not in out.stdout


# -- paths in kbc.toml ------------------------------------------------------------------------------------------

def test_storage_path_and_ca_file_may_not_leave_the_project(tmp_path, outside):
    (outside / "ca.pem").write_text("not a certificate\n")
    root = project(tmp_path / "p", storage={"path": "../outside/storage.duckdb"},
                   smtp={"host": "localhost", "ca_file": "../outside/ca.pem"})
    out = kbc("validate", root=root)
    assert out.returncode == 1
    assert [line.split(" (it leads")[0] for line in lines_of(out)] == [
        "kbc.toml:8: smtp.ca_file: the relative path '../outside/ca.pem' leaves the project folder",
        "kbc.toml:4: storage.path: the relative path '../outside/storage.duckdb' leaves the project folder"]
    orchestration(root, "good", [["ok"]])
    run = kbc("run", "good", root=root)
    assert run.returncode == 1
    assert run.stderr.startswith("kbc-tui: kbc.toml: storage.path: the relative path '../outside/storage.duckdb'")
    assert not (outside / "storage.duckdb").exists()


def test_a_relative_ca_file_leaving_the_project_is_a_clear_mail_error(tmp_path, outside):
    from kbc_tui.engine.mail import MailError, send_test_email

    (outside / "ca.pem").write_text("not a certificate\n")
    root = project(tmp_path / "p", smtp={"host": "127.0.0.1", "port": 1, "security": "tls",
                                         "ca_file": "../outside/ca.pem"})
    p = Project.load(root)
    with pytest.raises(MailError, match=r"^\[smtp\] ca_file: the relative path '../outside/ca.pem' leaves"):
        asyncio.run(send_test_email(p.settings, p.secrets, "me@example.com"))


# -- SQL scripts ----------------------------------------------------------------------------------------------

def sql_params(script: str) -> dict:
    return {"script": script, "output": [{"source": "t", "destination": "out.c-test.t"}]}


@pytest.mark.parametrize("script, reached", [
    ("create table t as select * from read_csv('{outside}/secret.csv');", None),
    ("create table t as select 1 as x; copy t to '{outside}/dropped.csv';", "dropped.csv"),
    ("attach '{outside}/other.duckdb' as other; create table t as select 1 as x;", "other.duckdb"),
])
def test_a_sql_script_cannot_read_or_write_files_outside_the_project(root, outside, script, reached):
    job, storage, _ = run_config(root, "sql-transformation", "peek", sql_params(script.format(outside=outside)))
    assert job.status is JobStatus.ERROR
    message = job.tasks[0].message
    assert "file system operations are disabled" in message, message
    assert "a script reads and writes files only inside the project folder" in message
    assert reached is None or not (outside / reached).exists()
    assert storage.table("out.c-test.t") is None


def test_a_sql_script_still_reads_files_inside_the_project_and_absolute_paths_still_load(root, outside):
    (root / "data").mkdir()
    (root / "data" / "codes.csv").write_text("code\n7\n")
    job, storage, _ = run_config(root, "sql-transformation", "local",
                                 sql_params(f"create table t as select * from read_csv('{root}/data/codes.csv');"))
    assert job.status is JobStatus.SUCCESS, job.message
    assert storage.preview("out.c-test.t")[1] == [(7,)]
    # a CSV file outside the project (an absolute path): kbc-tui reads it and hands DuckDB the bytes
    write_config(root, "sheet-extractor", "abs", {"path": str(outside / "secret.csv"), "output": "in.c-x.up"})
    job, storage, _ = run_config(root, "sheet-extractor", "abs")
    assert job.status is JobStatus.SUCCESS, job.message
    assert storage.preview("in.c-x.up")[1] == [("root", "hunter2")]
