"""The project's TOML files: round trips, stable output, broken files, conflicts, create / rename / delete."""

import shutil

import pytest

from kbc_tui.errors import ConfigError, ConflictError, KbcError
from kbc_tui.model import ComponentConfig, Notifications, Orchestration, Phase, Schedule, Task
from kbc_tui.model.project import ProjectSettings, SmtpSettings, UserSettings
from kbc_tui.store import Project


def full_orchestration() -> Orchestration:
    return Orchestration(
        "nightly", "Nightly sales", "All of it",
        phases=[Phase("Extract", [Task("db-extractor", "shop"), Task("sheet-extractor", "targets", active=False)]),
                Phase("", [Task("sql-transformation", "report", continue_on_failure=True, timeout_minutes=30,
                                retries=2, retry_delay_seconds=5)])],
        schedule=Schedule("30 2 * * *", "Europe/Prague", enabled=False, catchup="latest"),
        notifications=Notifications(error=["a@example.com"], processing=["b@example.com"], processing_tolerance=50),
    )


def test_orchestration_round_trip_is_exact(empty_project):
    project = Project.load(empty_project)
    orch = full_orchestration()
    project.save_orchestration(orch)
    again = Project.load(empty_project)
    assert again.orchestrations["nightly"] == orch
    path = empty_project / "orchestrations" / "nightly.toml"
    before = path.read_bytes()
    assert again.save_orchestration(again.orchestrations["nightly"]) is False  # nothing changed: not written
    assert path.read_bytes() == before


def _save_every_file(project: Project) -> None:
    for orch in project.orchestrations.values():
        project.save_orchestration(orch)
    for cfg in project.components.values():
        project.save_component(cfg)
    project.save_settings(project.settings)


def test_every_file_type_round_trips_byte_identical(demo_project):
    project = Project.load(demo_project)
    _save_every_file(project)  # normalise once (our canonical form); load + save must not change a byte
    files = {p: p.read_bytes() for p in demo_project.rglob("*.toml")}
    again = Project.load(demo_project)
    _save_every_file(again)
    assert {p: p.read_bytes() for p in demo_project.rglob("*.toml")} == files
    assert again.orchestrations == project.orchestrations
    assert again.components == project.components
    assert again.settings == project.settings


def test_changing_one_field_changes_one_line(empty_project):
    project = Project.load(empty_project)
    project.save_orchestration(full_orchestration())
    path = empty_project / "orchestrations" / "nightly.toml"
    before = path.read_text().splitlines()
    project = Project.load(empty_project)
    project.orchestrations["nightly"].schedule.cron = "0 3 * * *"
    project.save_orchestration(project.orchestrations["nightly"])
    after = path.read_text().splitlines()
    assert len(before) == len(after)
    assert [(a, b) for a, b in zip(before, after) if a != b] == [('cron = "30 2 * * *"', 'cron = "0 3 * * *"')]


def test_defaults_are_not_written(empty_project):
    project = Project.load(empty_project)
    project.save_orchestration(Orchestration("x", "X", phases=[Phase("", [Task("db-extractor", "shop")])]))
    text = (empty_project / "orchestrations" / "x.toml").read_text()
    assert "active" not in text and "retries" not in text and "notifications" not in text


def test_flat_tasks_form_loads_as_one_task_per_phase_and_stays_flat(empty_project):
    (empty_project / "orchestrations" / "flat.toml").write_text(
        'name = "Flat"\n\n[[tasks]]\ncomponent = "db-extractor"\nconfig = "a"\n\n'
        '[[tasks]]\ncomponent = "db-writer"\nconfig = "b"\n')
    project = Project.load(empty_project)
    orch = project.orchestrations["flat"]
    assert [len(p.tasks) for p in orch.phases] == [1, 1]
    assert "tasks" in orch.to_toml() and "phases" not in orch.to_toml()
    orch.phases[0].tasks.append(Task("db-writer", "c"))  # two tasks in a phase: needs phases
    assert "phases" in orch.to_toml()


def test_broken_file_is_reported_with_line_and_never_rewritten(demo_project):
    broken = demo_project / "orchestrations" / "sales-to-tableau.toml"
    content = broken.read_bytes().replace(b'cron = "0 6 * * 1-5"', b'cron = "0 6 * * 1-5')
    broken.write_bytes(content)
    project = Project.load(demo_project)
    [problem] = project.problems_for(broken)
    assert problem.line == content.decode().splitlines().index('cron = "0 6 * * 1-5') + 1
    assert "invalid TOML" in problem.message
    assert "sales-to-gooddata" in project.orchestrations  # the rest still loads
    with pytest.raises(ConfigError, match="fix it on disk first"):
        project.save_orchestration(Orchestration("sales-to-tableau", "Overwrite"))
    with pytest.raises(ConflictError):
        project.create_orchestration("sales-to-tableau", "Again")
    assert broken.read_bytes() == content


def test_invalid_values_are_reported_with_key_and_line(empty_project):
    path = empty_project / "orchestrations" / "bad.toml"
    path.write_text('name = "Bad"\n\n[[phases]]\n[[phases.tasks]]\ncomponent = "db-extractor"\nconfg = "x"\n\n'
                    '[schedule]\ncron = "61 * * * *"\ntimezone = "Europe/Prag"\n\n'
                    '[notifications]\nerror = ["not-an-address"]\n')
    project = Project.load(empty_project)
    got = {p.key: (p.line, p.message) for p in project.problems_for(path)}
    assert got["phases[0].tasks[0].confg"][0] == 6
    assert "did you mean 'config'" in got["phases[0].tasks[0].confg"][1]
    assert got["phases[0].tasks[0].config"][1] == "is required"
    assert got["schedule.cron"][0] == 9
    assert "did you mean 'Europe/Prague'" in got["schedule.timezone"][1]
    assert got["notifications.error[0]"][0] == 13
    with pytest.raises(ConfigError):
        project.save_orchestration(project.orchestrations["bad"])  # a rewrite would drop the bad values


def test_file_changed_on_disk_is_a_conflict_not_an_overwrite(demo_project):
    project = Project.load(demo_project)
    path = demo_project / "orchestrations" / "sales-to-gooddata.toml"
    someone_else = path.read_text() + '\n# edited by someone else\n'
    path.write_text(someone_else)
    assert project.changed_on_disk() == [path]
    orch = project.orchestrations["sales-to-gooddata"]
    orch.name = "Mine"
    with pytest.raises(ConflictError, match="changed on disk"):
        project.save_orchestration(orch)
    assert path.read_text() == someone_else


def test_create_rename_delete(empty_project):
    project = Project.load(empty_project)
    project.create_orchestration("daily-load", "Daily load")
    assert (empty_project / "orchestrations" / "daily-load.toml").read_text() == 'name = "Daily load"\n'
    with pytest.raises(KbcError, match="lowercase"):
        project.create_orchestration("Bad Name!", "x")
    with pytest.raises(KbcError, match="needs a name"):
        project.create_orchestration("ok", "  ")
    project.rename_orchestration("daily-load", name="Daily load v2", new_id="daily-load-v2")
    assert not (empty_project / "orchestrations" / "daily-load.toml").exists()
    assert Project.load(empty_project).orchestrations["daily-load-v2"].name == "Daily load v2"
    project.delete_orchestration("daily-load-v2")
    assert Project.load(empty_project).orchestrations == {}


def test_task_references_and_the_picker(demo_project):
    project = Project.load(demo_project)
    groups = project.automatable_components()
    refs = {kind.value: [c.ref for c in cfgs] for kind, cfgs in groups.items()}
    assert "db-extractor/shop" in refs["extractor"]
    assert "sql-transformation/sales-report" in refs["transformation"]
    assert not any("csv-upload" in r for rs in refs.values() for r in rs)  # manual: never offered
    assert project.task_problem(Task("db-extractor", "ghost")).startswith("configuration 'db-extractor/ghost'")
    assert "manual component" in project.task_problem(Task("csv-upload", "price-list"))
    shutil.rmtree(demo_project / "components" / "sheet-extractor")
    project = Project.load(demo_project)
    assert any("sheet-extractor/sales-targets" in p.message for p in project.problems)


def test_settings_round_trip_and_user_email_override(empty_project, monkeypatch):
    project = Project.load(empty_project)
    settings = ProjectSettings("P", UserSettings("me@example.com"),
                               SmtpSettings("smtp.example.com", 587, "starttls", "bot", "env:SMTP_PW",
                                            "kbc@example.com"))
    project.save_settings(settings)
    loaded = Project.load(empty_project).settings
    assert loaded == settings
    assert loaded.user.effective_email == "me@example.com"
    monkeypatch.setenv("KBC_USER_EMAIL", "other@example.com")
    assert loaded.user.effective_email == "other@example.com"


def test_missing_project_folder_and_settings(tmp_path):
    with pytest.raises(KbcError, match="project folder not found"):
        Project.load(tmp_path / "nope")
    (tmp_path / "p").mkdir()
    assert "missing project settings" in Project.load(tmp_path / "p").problems[0].message


def test_component_configuration_keys_are_checked(empty_project):
    folder = empty_project / "components" / "ftp-extractor"
    folder.mkdir()
    (folder / "x.toml").write_text('name = "x"\nparamaters = {}\n')
    problems = [str(p) for p in Project.load(empty_project).problems]
    assert any("unknown component type 'ftp-extractor'" in p for p in problems)
    assert any("paramaters: unknown key (did you mean 'parameters'?)" in p for p in problems)


def test_demo_configs_exist_for_every_component_type(demo_project):
    from kbc_tui.model.component import COMPONENT_TYPES

    project = Project.load(demo_project)
    assert {c.component for c in project.components.values()} == set(COMPONENT_TYPES)
    assert set(project.orchestrations) == {"sales-to-tableau", "sales-to-gooddata"}


def test_toggling_a_task_adds_one_line_and_keeps_the_layout(empty_project):
    project = Project.load(empty_project)
    orch = Orchestration("two", "Two", phases=[Phase("", [Task("db-extractor", "a"), Task("db-writer", "b")])])
    project.save_orchestration(orch)
    path = empty_project / "orchestrations" / "two.toml"
    before = path.read_text().splitlines()
    assert before.count("[[phases.tasks]]") == 2  # never inline tables, whatever their length
    orch.phases[0].tasks[1].active = False
    project.save_orchestration(orch)
    after = path.read_text().splitlines()
    assert [line for line in after if line not in before] == ["active = false"]
    assert len(after) == len(before) + 1


def test_sql_scripts_stay_readable_multiline_strings(empty_project):
    project = Project.load(empty_project)
    script = "create table t as\nselect 'a' as x, \"q\" as y, '\\d+' as re;\n"
    project.save_component(ComponentConfig("sql-transformation", "s", "S", parameters={"script": script}))
    text = (empty_project / "components" / "sql-transformation" / "s.toml").read_text()
    assert 'script = """create table t as\n' in text
    assert Project.load(empty_project).components["sql-transformation/s"].parameters["script"] == script


def test_each_problem_is_reported_once(empty_project):
    from kbc_tui.components import validate_config

    folder = empty_project / "components" / "sql-transformation"
    folder.mkdir()
    (folder / "t.toml").write_text('name = "t"\n[parameters]\nscript = "select 1"\n')
    problems = [str(p) for p in Project.load(empty_project, validate_config).problems]
    assert len(problems) == len(set(problems)) >= 1, problems


def test_fast_parser_and_tomllib_agree(demo_project):
    import tomllib

    from kbc_tui.store.toml_io import read_toml

    for path in demo_project.rglob("*.toml"):
        assert read_toml(path)[0] == tomllib.loads(path.read_text())


def test_polling_for_changes_reads_nothing_when_nothing_changed(demo_project, monkeypatch):
    project = Project.load(demo_project, quick=True)
    from pathlib import Path

    reads = []
    original = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or original(self))
    assert project.changed_on_disk() == []
    assert reads == []
    path = demo_project / "orchestrations" / "sales-to-tableau.toml"
    path.write_text(path.read_text() + "\n# touched\n")
    assert project.changed_on_disk() == [path]


def test_quick_load_cache_sees_every_change_and_equals_a_full_load(demo_project):
    Project.load(demo_project, quick=True)
    assert (demo_project / ".kbc" / "orchestrations-cache.json").exists()
    cached = Project.load(demo_project, quick=True)
    assert cached.orchestrations == Project.load(demo_project).orchestrations
    path = demo_project / "orchestrations" / "sales-to-tableau.toml"
    path.write_text(path.read_text().replace('name = "Sales to Tableau"', 'name = "Changed"', 1))
    (demo_project / "orchestrations" / "new-one.toml").write_text('name = "New"\n')
    (demo_project / "orchestrations" / "sales-to-gooddata.toml").unlink()
    second = Project.load(demo_project, quick=True)
    assert second.orchestrations["sales-to-tableau"].name == "Changed"
    assert set(second.orchestrations) == {"sales-to-tableau", "new-one"}
    (demo_project / "orchestrations" / "new-one.toml").write_text('name = "Broken\n')
    third = Project.load(demo_project, quick=True)
    assert third.is_broken(demo_project / "orchestrations" / "new-one.toml")
    assert [str(p) for p in third.problems] == [str(p) for p in Project.load(demo_project).problems]
    (demo_project / ".kbc" / "orchestrations-cache.json").write_bytes(b"garbage")
    assert Project.load(demo_project, quick=True).orchestrations["sales-to-tableau"].name == "Changed"
    # a cached orchestration is saved with the same conflict protection as a read one
    project = Project.load(demo_project, quick=True)
    path.write_text(path.read_text() + "# edited elsewhere\n")
    with pytest.raises(ConflictError):
        project.save_orchestration(project.orchestrations["sales-to-tableau"])
