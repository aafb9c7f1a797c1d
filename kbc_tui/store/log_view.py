"""A job's log by line number (0 = its first line), read a window at a time from the history.

The job screen shows a million-line log by reading only the lines on screen. Line ids of one job are
not contiguous (jobs running side by side interleave in ``log_lines``), so a line number becomes an id
through a sparse index kept here: the id of every ``EVERY``-th line of the job. It is built by letting
SQLite walk the ``(job_id, id)`` index in steps (``LIMIT 1 OFFSET EVERY``: about 30 ms per million lines,
in C, with no rows read) and extended as the job logs more; it costs 8 bytes per ``EVERY`` lines. A line
number never changes meaning: ids only grow, and a job's lines are deleted only with the job. A window
is one indexed query: from the nearest mark, skip fewer than ``EVERY`` entries, read ``PAGE`` rows.

No schema change is needed (nothing to migrate, nothing added to the cost of writing a line). Search
runs in SQL on its own connection, so a worker thread can scan a big log while the UI keeps reading.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections import OrderedDict
from typing import Callable, Iterator

from kbc_tui.model.job import LogLine
from kbc_tui.store.state import JobState

EVERY = 1024  # lines between two marks of the sparse index
PAGE = 128  # lines read at a time
PAGES_KEPT = 16  # pages cached (2,048 lines: a few screens either side of the view)
EXPORT_BATCH = 5000


class JobLogView:
    """Lines of one job by position. ``refresh()`` takes in new lines; ``line(n)`` reads through a small cache."""

    def __init__(self, history: JobState, job_id: int, before_read: Callable[[], None] | None = None) -> None:
        self.history = history
        self.job_id = job_id
        self.count = 0
        self._before_read = before_read  # the engine flushes its buffered lines first
        self._marks = array("q")  # id of line 0, EVERY, 2 * EVERY, ...
        self._pages: OrderedDict[int, list[LogLine]] = OrderedDict()

    # -- size ------------------------------------------------------------------------------------
    def refresh(self) -> int:
        """Take in the lines logged since the last call (a few indexed queries); returns the line count."""
        if self._before_read is not None:
            self._before_read()
        marks = self._marks
        if not marks:
            first = self._step(0, 0)
            if first is None:
                return 0
            marks.append(first)
        while (mark := self._step(marks[-1], EVERY)) is not None:
            marks.append(mark)
        count = (len(marks) - 1) * EVERY + self._count(marks[-1])
        if count != self.count:
            self.count = count
            for page in [p for p, rows in self._pages.items() if len(rows) < PAGE]:
                del self._pages[page]  # the last page grew
        return count

    def forget(self) -> None:
        """Drop the cached pages and the index (a closed screen); ``refresh()`` builds them again."""
        self._pages.clear()
        self._marks = array("q")
        self.count = 0

    # -- reading -----------------------------------------------------------------------------------
    def line(self, position: int) -> LogLine | None:
        if not 0 <= position < self.count:
            return None
        page_no = position // PAGE
        page = self._pages.get(page_no)
        if page is None:
            start = page_no * PAGE
            page = self._read(self._marks[start // EVERY], start % EVERY, PAGE)
            self._pages[page_no] = page
            if len(self._pages) > PAGES_KEPT:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page_no)
        offset = position - page_no * PAGE
        return page[offset] if offset < len(page) else None

    def position_of(self, line_id: int) -> int | None:
        """The line number of a line of this job (None if it is not one of its counted lines)."""
        mark = bisect_right(self._marks, line_id) - 1
        if mark < 0:
            return None
        position = mark * EVERY + self._count(self._marks[mark], before_id=line_id)
        return position if position < self.count else None

    def search(self, needle: str) -> array:
        """Ids of the lines whose text or level contains ``needle`` (ASCII letters in any case), in order.

        One scan on a connection of its own: safe to call from a worker thread."""
        return self.history.search_log(self.job_id, needle, EXPORT_BATCH)

    def all_lines(self) -> Iterator[LogLine]:
        """Every line of the job in order, ``EXPORT_BATCH`` at a time (for the pager: memory stays flat)."""
        after = 0
        while True:
            batch = self.history.log(self.job_id, after, EXPORT_BATCH)
            if not batch:
                return
            yield from batch
            after = batch[-1].id

    # -- queries -------------------------------------------------------------------------------------
    def _step(self, from_id: int, n: int) -> int | None:
        """The id ``n`` lines after line ``from_id`` (``n = 0``: the first line with an id >= ``from_id``)."""
        return self.history.log_step(self.job_id, from_id, n)

    def _count(self, from_id: int, before_id: int | None = None) -> int:
        return self.history.log_count(self.job_id, from_id, before_id)

    def _read(self, from_id: int, skip: int, limit: int) -> list[LogLine]:
        return self.history.log_window(self.job_id, from_id, skip, limit)
