"""Bad orchestration files (tests/data/bad_orchestrations/) each give one exact problem line."""

import shutil
from pathlib import Path

import pytest

from kbc_tui.store import Project

DATA = Path(__file__).parent / "data" / "bad_orchestrations"

EXPECTED = {
    "bad-cron": "8: schedule.cron: invalid cron expression '61 * * * *'",
    "bad-email": "8: notifications.error[1]: invalid e-mail address 'not-an-address'",
    "broken-syntax": "3:8: invalid TOML: Expected ']]' at the end of an array declaration",
    "negative-retries": "6: tasks[0].retries: expected an integer >= 0, got -1",
    "phases-and-tasks": "10: tasks: use either [[phases]] or [[tasks]], not both",
    "typo-in-notifications": "8: notifications.eror: unknown key (did you mean 'error'?)",
    "unknown-timezone": "9: schedule.timezone: unknown time zone 'Europe/Prage'",
    "wrong-type": "6: tasks[0].active: expected true or false, got a string",
    "manual-component": "5: tasks[0].config: 'csv-upload' is a manual component and cannot be orchestrated",
    "missing-config": "5: tasks[0].config: configuration 'sql-transformation/nope' does not exist",
    "never-fires": "8: schedule.cron: never fires: 31 April does not exist",
    "infinite-retry-delay": "7: tasks[0].retry_delay_seconds: expected a finite number, got inf",
    "nan-timeout": "6: tasks[0].timeout_minutes: expected a finite number, got nan",
}


def test_every_fixture_has_an_expectation():
    assert sorted(p.stem for p in DATA.glob("*.toml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_orchestration_reports_one_exact_line(empty_project, name):
    for component, config, body in [
        ("sql-transformation", "t", 'script = "create table x as select 1 as a"\n'
                                    '[[parameters.output]]\nsource = "x"\ndestination = "out.c-x.x"\n'),
        ("csv-upload", "prices", 'path = "p.csv"\noutput = "in.c-manual.prices"\n'),
    ]:
        folder = empty_project / "components" / component
        folder.mkdir(exist_ok=True)
        (folder / f"{config}.toml").write_text(f'name = "{config}"\n[parameters]\n{body}')
    target = empty_project / "orchestrations" / f"{name}.toml"
    shutil.copy(DATA / f"{name}.toml", target)
    before = target.read_bytes()

    project = Project.load(empty_project)

    lines = [project.format_problem(p) for p in project.problems]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"orchestrations/{name}.toml:{EXPECTED[name]}"), lines[0]
    assert target.read_bytes() == before  # reported, never rewritten
