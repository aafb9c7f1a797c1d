"""A ``DataTable`` whose columns fit the width it has: designed for 80 columns, growing with the terminal.

Each column has a narrowest width (at least its header label) and, unless it is one of the columns that
take the rest of the space, a widest. The table measures its cells: a column is never wider than its widest
value (or its label), so short columns ("stop", "12.0 s") take only what they show. Column widths follow
the table's width and its content: every column gets its narrowest (or less, when its values are shorter),
then the bounded (short) columns get up to their widest value, then the growing (text) columns up to theirs,
shared by ``grow``; what is left widens the growing columns. No column is padded while a name is cut. A cell that does not fit ends in "…" (rows of height ``None`` wrap instead), so no column
disappears off the right edge and no horizontal scroll bar appears.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import DataTable


@dataclass(frozen=True)
class Col:
    label: str
    key: str
    min: int
    max: int | None = None  # None: grows with the terminal
    grow: int = 1  # share of the space left, among the growing columns

    def __post_init__(self) -> None:
        assert self.min >= len(self.label), f"column {self.label!r} is narrower than its label"


def _share(widths: list[int], indexes: list[int], cols: list[Col], spare: int, cap: list[int] | None) -> int:
    """Give up to ``spare`` cells to the columns ``indexes`` by their ``grow`` shares, each up to ``cap`` (None:
    no cap); returns what is left."""
    open_ = [i for i in indexes if cap is None or widths[i] < cap[i]]
    while spare > 0 and open_:
        shares = sum(cols[i].grow for i in open_)
        given = 0
        for n, i in enumerate(open_):
            extra = spare - given if n == len(open_) - 1 else spare * cols[i].grow // shares
            if cap is not None:
                extra = min(extra, cap[i] - widths[i])
            widths[i] += extra
            given += extra
        spare -= given
        if given == 0:
            break
        open_ = [i for i in open_ if cap is None or widths[i] < cap[i]]
    return spare


def fit_widths(cols: list[Col], available: int, widest: list[int] | None = None) -> list[int]:
    """Each column's width for ``available`` cells of content (padding already taken off); ``widest``: the
    widest value of each column (None: not measured, every column as wide as it may be)."""
    want = [c.max if c.max is not None else 10**6 for c in cols] if widest is None else \
        [max(len(c.label), w if c.max is None else min(w, c.max)) for c, w in zip(cols, widest)]
    widths = [max(len(c.label), min(c.min, w)) for c, w in zip(cols, want)]
    spare = available - sum(widths)
    growing = [i for i, c in enumerate(cols) if c.max is None]
    for i, col in enumerate(cols):  # the bounded columns up to their widest value, in order
        if spare <= 0:
            break
        if col.max is not None:
            extra = min(spare, want[i] - widths[i])
            widths[i] += extra
            spare -= extra
    spare = _share(widths, growing, cols, spare, want)  # the text columns up to theirs
    if growing:
        _share(widths, growing, cols, spare, None)  # the rest to the text columns
    return widths


def cell_width(cell: object) -> int:
    """The cells a value takes on one line (its longest line)."""
    if isinstance(cell, Text):
        cell = cell.plain
    return max((cell_len(line) for line in str(cell).split("\n")), default=0)


def fitting(cell: object) -> object:
    """A cell as text that ends in "…" when cut (a plain string is text, never markup)."""
    if isinstance(cell, str):
        return Text(cell, overflow="ellipsis", end="")
    if isinstance(cell, Text):
        cell.overflow = "ellipsis"
    return cell


class FitTable(DataTable):
    DEFAULT_CSS = """
    FitTable { overflow-x: hidden; scrollbar-gutter: stable; scrollbar-size-vertical: 1; }
    """

    def __init__(self, cols: list[Col], **kwargs) -> None:
        super().__init__(**kwargs)
        self.cols = cols
        self._fitted_to: tuple | None = None
        self.widest = [0] * len(cols)  # each column's widest value so far
        self._refit_pending = False
        for col in cols:  # the columns exist before the screen's on_mount fills the rows
            self.add_column(Text(col.label, overflow="ellipsis"), key=col.key, width=col.min)

    def on_mount(self) -> None:
        self.fit()

    def on_resize(self, event: events.Resize) -> None:
        self.fit()

    def available(self) -> int:
        width = self.scrollable_content_region.width  # less border, padding and the scroll bar's gutter
        if not width:  # not laid out yet: as wide as the screen
            width = self.app.size.width - self.styles.gutter.width - self.styles.scrollbar_size_vertical
        return width - 2 * self.cell_padding * len(self.cols)

    def fit(self) -> None:
        self._refit_pending = False
        available = self.available()
        if (available, self.row_count > 0, *self.widest) == self._fitted_to or not self.columns:
            return
        self._fitted_to = (available, self.row_count > 0, *self.widest)
        measured = self.widest if self.row_count else None  # an empty table: its columns as wide as they may be
        for col, width in zip(self.cols, fit_widths(self.cols, available, measured)):
            column = self.columns[col.key]  # type: ignore[index]
            column.width, column.auto_width = width, False
        # DataTable has no public way to resize a column: make it measure and draw again
        self._update_count += 1
        self._clear_caches()
        self._require_update_dimensions = True
        self.check_idle()
        self.refresh()

    def add_row(self, *cells, **kwargs):
        grew = False
        for i, cell in enumerate(cells[:len(self.widest)]):
            width = cell_width(cell)
            if width > self.widest[i]:
                self.widest[i], grew = width, True
        if grew and not self._refit_pending and self.is_mounted:
            self._refit_pending = True
            self.call_after_refresh(self.fit)
        return super().add_row(*(fitting(c) for c in cells), **kwargs)

    def clear(self, columns: bool = False):
        self.widest = [0] * len(self.cols)  # measured again from the rows added next
        return super().clear(columns)
