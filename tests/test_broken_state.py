"""A damaged, misplaced or unwritable project state: one line that names the file and says what to do, exit 1,
never a traceback; nothing the user wrote is lost."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from tests.helpers.cli import kbc, project_with_a_job
from tests.helpers.projects import orchestration, project, sql_config
from tests.helpers.readonly import read_only


@pytest.fixture
def root(tmp_path):
    return project_with_a_job(tmp_path / "p")


def one_line_error(out) -> str:
    assert out.returncode == 1, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr + out.stdout, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("kbc-tui: ")
    return lines[0]


def damage(path, how):
    if how == "garbled":
        path.write_bytes(b"this is not a database at all " * 200)
    else:  # a copy cut short, as a full disk or a crashed copy leaves it
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    for extra in ("-wal", "-shm"):
        path.with_name(path.name + extra).unlink(missing_ok=True)


@pytest.mark.parametrize("how", ["garbled", "truncated"])
def test_a_damaged_history_is_one_line_that_says_how_to_move_it_aside(root, how):
    history = root / ".kbc" / "jobs.sqlite"
    damage(history, how)
    for args in (["jobs"], ["job", "1"], ["run", "good"], ["cancel", "1"], ["jobs", "--json"]):
        line = one_line_error(kbc(*args, root=root))
        assert str(history) in line and "damaged" in line and f"mv '{history}'" in line, (args, line)
    # moved aside as the message says: a new history, the project runs again
    shutil.move(history, history.with_name("jobs.sqlite.damaged"))
    assert kbc("run", "good", root=root).returncode == 0


def test_a_file_where_the_state_folder_belongs(tmp_path):
    root = project(tmp_path / "p")
    sql_config(root, "ok", "create table t as select 1 as id;", ["t"])
    orchestration(root, "good", [["ok"]])
    (root / ".kbc").write_text("oops")
    for args in (["jobs"], ["run", "good"], ["scheduler"]):
        line = one_line_error(kbc(*args, root=root))
        assert ".kbc" in line and "a file is in the way" in line, (args, line)
    (root / "kbc.toml").write_text('name = "x"\n[smtp]\nhost = "h"\n"#password" = "plain"\n')
    line = one_line_error(kbc("encrypt", root=root))
    assert ".kbc" in line and "a file is in the way" in line
    assert '"#password" = "plain"' in (root / "kbc.toml").read_text()  # nothing was half-written


def test_a_read_only_project(root):
    import os

    from cryptography.fernet import Fernet

    (root / "kbc.toml").write_text('name = "x"\n[smtp]\nhost = "h"\n"#password" = "plain"\n')
    before = (root / "kbc.toml").read_bytes()
    with read_only(root):
        line = one_line_error(kbc("run", "good", root=root))
        assert "jobs.sqlite" in line or ".kbc" in line
        line = one_line_error(kbc("encrypt", root=root))
        assert ".kbc/secret.key" in line and ("not permitted" in line or "permission denied" in line)
        key = {**os.environ, "KBC_SECRET_KEY": Fernet.generate_key().decode()}
        line = one_line_error(kbc("encrypt", root=root, env=key))
        assert "kbc.toml" in line and "unchanged" in line
        assert kbc("validate", root=root).returncode in (0, 1)  # reading still works
        listing = kbc("jobs", root=root)  # reading the history needs no write (tests/test_history_read_only.py)
        assert listing.returncode == 0 and "good" in listing.stdout, listing.stderr
        assert "jobs.sqlite" in listing.stderr and "read-only" in listing.stderr, listing.stderr
    assert (root / "kbc.toml").read_bytes() == before
