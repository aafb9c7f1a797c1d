"""Where a new task goes (the domain, headless): Extract -> Transform -> Load, as the tutorial orders them."""

from __future__ import annotations

import pytest

from kbc_tui.model.component import Kind
from kbc_tui.model.orchestration import Phase, Task, parse_limits, place_task, stage_phase

EXTRACTOR, EXTRACTOR2 = Task("db-extractor", "shop"), Task("sheet-extractor", "targets")
TRANSFORMATION, WRITER = Task("sql-transformation", "report"), Task("db-writer", "warehouse")


def shape(phases: list[Phase]) -> list[tuple[str, list[str]]]:
    return [(p.name, [t.config for t in p.tasks]) for p in phases]


@pytest.mark.parametrize("order", [
    [EXTRACTOR, TRANSFORMATION, WRITER], [WRITER, TRANSFORMATION, EXTRACTOR], [TRANSFORMATION, WRITER, EXTRACTOR]])
def test_an_empty_orchestration_gets_extract_transform_load_in_that_order(order):
    phases: list[Phase] = []
    for task in order:
        place_task(phases, task)
    assert shape(phases) == [("Extract", ["shop"]), ("Transform", ["report"]), ("Load", ["warehouse"])]


def test_tasks_of_a_kind_share_their_phase_and_the_index_is_returned():
    phases: list[Phase] = []
    assert place_task(phases, WRITER) == 0
    assert place_task(phases, EXTRACTOR) == 0  # Extract goes before Load
    assert place_task(phases, EXTRACTOR2) == 0
    assert place_task(phases, TRANSFORMATION) == 1
    assert shape(phases) == [("Extract", ["shop", "targets"]), ("Transform", ["report"]), ("Load", ["warehouse"])]


def test_a_phase_of_the_stage_name_is_reused_whatever_its_case_and_content():
    phases = [Phase("extract ", [Task("sql-transformation", "odd")]), Phase("LOAD", [])]
    assert place_task(phases, EXTRACTOR) == 0
    assert place_task(phases, WRITER) == 1
    assert place_task(phases, TRANSFORMATION) == 1  # a new Transform, between extract and LOAD
    assert shape(phases) == [("extract ", ["odd", "shop"]), ("Transform", ["report"]), ("LOAD", ["warehouse"])]


def test_an_unnamed_phase_holding_only_that_kind_is_reused_a_mixed_one_is_not():
    phases = [Phase("", [EXTRACTOR]), Phase("", [TRANSFORMATION, WRITER])]
    assert stage_phase(phases, Kind.EXTRACTOR) == 0
    assert stage_phase(phases, Kind.TRANSFORMATION) is None and stage_phase(phases, Kind.WRITER) is None
    assert place_task(phases, EXTRACTOR2) == 0
    assert place_task(phases, Task("db-writer", "other")) == 2  # after the mixed phase (it starts with a T)
    assert shape(phases) == [("", ["shop", "targets"]), ("", ["report", "warehouse"]), ("Load", ["other"])]


def test_a_phase_named_after_another_stage_is_not_reused_for_this_kind():
    phases = [Phase("Load", [EXTRACTOR])]  # misnamed, but its name says Load
    assert stage_phase(phases, Kind.EXTRACTOR) is None
    assert place_task(phases, EXTRACTOR2) == 0  # Extract goes before it
    assert shape(phases) == [("Extract", ["targets"]), ("Load", ["shop"])]


def test_a_manual_component_has_no_phase():
    with pytest.raises(ValueError):
        place_task([], Task("csv-upload", "prices"))


def test_limits_are_parsed_with_a_reason_per_field():
    assert parse_limits("", "", "") == ({"timeout_minutes": None, "retries": 0, "retry_delay_seconds": 30}, {})
    assert parse_limits("90", "2", "12.5") == ({"timeout_minutes": 90, "retries": 2, "retry_delay_seconds": 12.5}, {})
    values, problems = parse_limits("0", "101", "-1")
    assert set(problems) == {"timeout_minutes", "retries", "retry_delay_seconds"} and values == {}
    assert parse_limits("inf", "two", "nan")[1].keys() == {"timeout_minutes", "retries", "retry_delay_seconds"}
