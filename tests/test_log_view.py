"""A job's log by line number (JobLogView through the engine's API): windows, growth, search, export."""

import random

import pytest

from kbc_tui.engine import Engine
from kbc_tui.store import log_view
from tests.helpers.logs import big_job, text_of
from tests.helpers.projects import project


@pytest.fixture
def root(tmp_path):
    return project(tmp_path / "p")


@pytest.fixture
def engine(root):
    """The engine, not started: reading the history needs no event loop."""
    engine = Engine(root)
    yield engine
    engine.history.close()


class RowCounter:
    """Counts the rows the job state hands the view, per call (its log reads, on SQLite or PostgreSQL alike)."""

    def __init__(self, monkeypatch, state):
        self.calls: list[int] = []
        for name in ("log", "log_step", "log_count", "log_window"):
            real = getattr(state, name)

            def counted(*args, _real=real, **kwargs):
                result = _real(*args, **kwargs)
                self.calls.append(len(result) if isinstance(result, list) else int(result is not None))  # lines; an id, a count
                return result

            monkeypatch.setattr(state, name, counted)

    @property
    def rows(self) -> int:
        return sum(self.calls)


def test_any_line_of_an_interleaved_log_is_found_by_its_number(root, engine):
    lines = 3 * log_view.EVERY + 17
    job_id = big_job(root, lines, other_every=3)
    view = engine.job_log_view(job_id)
    assert view.refresh() == lines
    rng = random.Random(7)
    for n in [0, 1, log_view.EVERY - 1, log_view.EVERY, log_view.PAGE, lines - 1] + rng.sample(range(lines), 50):
        line = view.line(n)
        assert line.text == text_of(n) and view.position_of(line.id) == n
    assert view.line(lines) is None and view.line(-1) is None


def test_a_window_reads_a_page_not_the_log(root, engine, monkeypatch):
    job_id = big_job(root, 20_000)
    view = engine.job_log_view(job_id)
    counter = RowCounter(monkeypatch, engine.history)
    assert view.refresh() == 20_000
    assert view.line(12_345).text == text_of(12_345) and view.line(12_300).text == text_of(12_300)
    assert counter.rows <= 20_000 // log_view.EVERY + 2 + log_view.PAGE


def test_new_lines_are_counted_across_marks_and_the_last_page_grows(root, engine):
    job_id = big_job(root, log_view.EVERY - 2)
    view = engine.job_log_view(job_id)
    assert view.refresh() == log_view.EVERY - 2
    assert view.line(log_view.EVERY - 3).text == text_of(log_view.EVERY - 3)  # caches the last, partial page
    for i in range(5):
        engine.add_log(job_id, "info", f"new line {i}")  # buffered by the engine: the view flushes it first
    assert view.refresh() == log_view.EVERY + 3
    assert [view.line(n).text for n in range(log_view.EVERY - 2, log_view.EVERY + 3)] == [
        f"new line {i}" for i in range(5)]


def test_search_is_sql_over_the_whole_log_and_takes_the_text_literally(root, engine):
    job_id = big_job(root, 5000, special={3: ("info", "100% done_ok"), 4_321: ("error", "Needle found"),
                                          4_999: ("info", "100 percent done")})
    view = engine.job_log_view(job_id)
    view.refresh()
    [hit] = view.search("needle")
    assert view.position_of(hit) == 4_321
    assert [view.position_of(i) for i in view.search("100% done_")] == [3]  # % and _ are not wildcards
    assert len(view.search("ERROR")) == 500  # the level counts too, in any case
    assert len(view.search("nowhere")) == 0


def test_all_lines_stream_in_batches(root, engine, monkeypatch):
    monkeypatch.setattr(log_view, "EXPORT_BATCH", 1000)
    job_id = big_job(root, 4500)
    view = engine.job_log_view(job_id)
    counter = RowCounter(monkeypatch, engine.history)
    texts = [line.text for line in view.all_lines()]
    assert texts == [text_of(n) for n in range(4500)]
    assert max(counter.calls) == 1000
