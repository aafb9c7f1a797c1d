"""A ``DataTable`` whose columns fit the width it has: designed for 80 columns, growing with the terminal.

Each column has a narrowest width (at least its header label) and, unless it is one of the columns that
take the rest of the space, a widest. Column widths follow the table's width on every resize: the narrow
columns get up to their widest first, the growing ones share what is left. A cell that does not fit ends
in "…" (rows of height ``None`` wrap instead), so no column disappears off the right edge and no horizontal
scroll bar appears.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def fit_widths(cols: list[Col], available: int) -> list[int]:
    """Each column's width for ``available`` cells of content (padding already taken off)."""
    widths = [c.min for c in cols]
    spare = available - sum(widths)
    for i, col in enumerate(cols):  # the bounded columns first, in order
        if spare <= 0:
            break
        if col.max is not None:
            extra = min(spare, col.max - col.min)
            widths[i] += extra
            spare -= extra
    growing = [i for i, c in enumerate(cols) if c.max is None]
    if spare > 0 and growing:
        shares = sum(cols[i].grow for i in growing)
        given = 0
        for n, i in enumerate(growing):
            extra = spare - given if n == len(growing) - 1 else spare * cols[i].grow // shares
            widths[i] += extra
            given += extra
    return widths


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
        self._fitted_to: int | None = None
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
        available = self.available()
        if available == self._fitted_to or not self.columns:
            return
        self._fitted_to = available
        for col, width in zip(self.cols, fit_widths(self.cols, available)):
            column = self.columns[col.key]  # type: ignore[index]
            column.width, column.auto_width = width, False
        # DataTable has no public way to resize a column: make it measure and draw again
        self._update_count += 1
        self._clear_caches()
        self._require_update_dimensions = True
        self.check_idle()
        self.refresh()

    def add_row(self, *cells, **kwargs):
        return super().add_row(*(fitting(c) for c in cells), **kwargs)
