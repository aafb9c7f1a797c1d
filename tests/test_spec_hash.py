"""An orchestration's content hash (what a job is queued with in a shared state): the parsed orchestration and
the configurations its tasks name; comments, whitespace, key order and quoting do not count, values do."""

from __future__ import annotations

from kbc_tui.engine.spec_hash import LENGTH, spec_hash
from tests.helpers.projects import orchestration, project, sql_config


def make(root):
    project(root)
    sql_config(root, "a", "create table t as select 1 as x;", ["t"])
    sql_config(root, "b", "create table u as select 2 as y;", ["u"])
    orchestration(root, "o", [["a"], ["b"]])
    return root


def test_same_content_same_hash_whatever_the_layout(tmp_path):
    one, two = make(tmp_path / "one"), make(tmp_path / "two")
    first = spec_hash(one, "o")
    assert first is not None and len(first) == LENGTH and first == spec_hash(two, "o")  # the folder does not count
    path = two / "components" / "sql-transformation" / "a.toml"
    path.write_text("# a comment\n\n" + path.read_text().replace(" = ", "   =   ") + "\n# the end\n")
    orch = two / "orchestrations" / "o.toml"
    orch.write_text("# edited by hand\n" + orch.read_text())
    assert spec_hash(two, "o") == first


def test_any_value_of_the_orchestration_or_its_configurations_counts(tmp_path):
    root = make(tmp_path / "p")
    before = spec_hash(root, "o")
    sql_config(root, "b", "create table u as select 3 as y;", ["u"])
    changed = spec_hash(root, "o")
    assert changed != before
    orchestration(root, "o", [["a"], ["b"]], schedule={"cron": "0 6 * * *"})
    assert spec_hash(root, "o") not in (before, changed)
    (root / "components" / "sql-transformation" / "a.toml").unlink()
    missing = spec_hash(root, "o")
    assert missing is not None and missing != changed  # a missing configuration is part of what is hashed


def test_an_unreadable_orchestration_has_no_hash(tmp_path):
    root = make(tmp_path / "p")
    assert spec_hash(root, "nope") is None
    (root / "orchestrations" / "o.toml").write_text("phases = [")
    assert spec_hash(root, "o") is None
    assert spec_hash(root, "../o") is None  # not an id
