"""No control character from a file or a server reaches the terminal through the CLI (issue 11, item 7).

A name, a log line or a server's error message may hold ``ESC ] 0 ; … BEL`` (retitles the terminal) or
``ESC [ 2 J`` (clears it). The CLI shows them as visible escapes (``\\x1b``); validate refuses control
characters in names.
"""

import json

import pytest

from kbc_tui.model.text import one_line, printable
from kbc_tui.store.toml_io import dumps_toml
from tests.helpers.cli import kbc
from tests.helpers.projects import orchestration, project, sql_config

TITLE = "\x1b]0;pwned\x07"  # OSC 0: sets the terminal's title
SHOWN = "\\x1b]0;pwned\\x07"
CONTROL_BYTES = ("\x1b", "\x07", "\x9b", "\r")


def assert_clean(out) -> None:
    for char in CONTROL_BYTES:
        assert char not in out.stdout and char not in out.stderr, f"{char!r} reached the terminal"


@pytest.fixture
def root(tmp_path):
    root = project(tmp_path / "p")
    # DuckDB quotes the missing table's name in its error: a server message carrying an escape sequence
    sql_config(root, "evil", f'create table t as select * from "{TITLE}";', ["t"])
    orchestration(root, "evil", [["evil"]])
    return root


def test_run_and_job_show_a_server_message_with_escapes_visibly(root):
    run = kbc("run", "evil", root=root, env={"KBC_USER_EMAIL": f"{TITLE}me@example.com"})
    assert run.returncode == 1
    assert_clean(run)
    assert f"Catalog Error: Table with name {SHOWN} does not exist" in run.stdout
    assert f"trigger manual by {SHOWN}me@example.com" in run.stdout
    for command in (["job", "1"], ["jobs"]):
        out = kbc(*command, root=root)
        assert_clean(out)
        assert SHOWN in out.stdout
    log = json.loads(kbc("job", "1", "--json", root=root).stdout)["log"]  # JSON escapes it; the data is kept
    assert any(TITLE in line["text"] for line in log)


def test_validate_refuses_control_characters_in_names_and_prints_them_visibly(root):
    (root / "kbc.toml").write_bytes(dumps_toml({"name": f"Shop{TITLE}"}))
    (root / "orchestrations" / "evil.toml").write_bytes(dumps_toml({
        "name": f"{TITLE}Nightly", "phases": [{"name": "Ex\ttract", "tasks": [{"component": "sql-transformation",
                                                                               "config": "evil"}]}],
        f"{TITLE}": 1}))
    path = root / "components" / "sql-transformation" / "evil.toml"
    path.write_text(path.read_text().replace('name = "evil"', 'name = "Sales\\u009b2J"'))
    out = kbc("validate", root=root)
    assert out.returncode == 1
    assert_clean(out)
    plain_text = "a name is shown on screen and must be plain text"
    assert out.stdout.splitlines() == [
        f"kbc.toml:1: name: contains the control character \\x1b at position 5; {plain_text}",
        f"components/sql-transformation/evil.toml:1: name: contains the control character \\x9b at position 6; "
        f"{plain_text}",
        f"orchestrations/evil.toml:1: name: contains the control character \\x1b at position 1; {plain_text}",
        f"orchestrations/evil.toml:5: phases[0].name: contains the control character \\t at position 3; {plain_text}",
        f"orchestrations/evil.toml:1: {SHOWN}: unknown key",  # (a quoted key with escapes: line 1)
    ]


@pytest.mark.parametrize("text, line, lines", [
    ("plain", "plain", "plain"),
    (f"a{TITLE}b", f"a{SHOWN}b", f"a{SHOWN}b"),
    ("two\nlines\r\n\ttab", "two lines   tab", "two\nlines\n\ttab"),
    ("carriage\rreturn \x7f\x9b\x00", "carriage return \\x7f\\x9b\\x00", "carriage\\rreturn \\x7f\\x9b\\x00"),
    ("Café ✔ — 東京", "Café ✔ — 東京", "Café ✔ — 東京"),
])
def test_one_line_and_printable(text, line, lines):
    assert one_line(text) == line
    assert printable(text) == lines
