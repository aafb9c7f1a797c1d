"""Hypothesis: random bytes and random TOML as project files never raise anything but the project's
own error type, never crash ``Project.load``, and problems name the file."""

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbc_tui.errors import ConfigError, KbcError
from kbc_tui.store import Project
from kbc_tui.store.toml_io import read_toml

KEYS = st.sampled_from(["name", "description", "phases", "tasks", "schedule", "notifications", "cron",
                        "timezone", "enabled", "component", "config", "active", "retries", "timeout_minutes",
                        "error", "user", "smtp", "port", "parameters", "#password", "catchup", "x"])
SCALARS = st.one_of(st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False), st.text(max_size=20))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)
TABLES = st.dictionaries(KEYS, VALUES, max_size=6)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

TARGETS = ["orchestrations/o.toml", "components/db-extractor/c.toml", "kbc.toml"]


def load_with(root, relative: str, content: bytes) -> Project:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    try:
        project = Project.load(root)
    except KbcError:
        raise AssertionError("Project.load must report bad files as problems, not raise")
    return project


@FUZZ
@given(content=st.binary(max_size=300), target=st.sampled_from(TARGETS))
def test_random_bytes(empty_project, content, target):
    project = load_with(empty_project, target, content)
    for problem in project.problems:
        assert problem.path.name in str(problem)


@FUZZ
@given(data=TABLES, target=st.sampled_from(TARGETS))
def test_random_toml(empty_project, data, target):
    project = load_with(empty_project, target, tomli_w.dumps(data).encode())
    for problem in project.problems:
        assert str(problem).startswith(str(empty_project))


@FUZZ
@given(content=st.binary(max_size=200))
def test_read_toml_raises_only_config_error(tmp_path, content):
    path = tmp_path / "x.toml"
    path.write_bytes(content)
    try:
        read_toml(path)
    except ConfigError as exc:
        assert "x.toml" in str(exc)
