"""A job's log drawn with Textual's Line API: each frame reads only the records it shows.

The records come from a ``JobLogView`` (the history, a window at a time), so a million-line log costs
what is on screen. The scroll position is a record number. Without wrap one record is one row (a
record's own line breaks show as ``⏎``), the virtual height is the record count and the width grows to
the longest record drawn so far. With wrap a record takes the rows it needs at the view's width (later
rows indented under the text): a frame is laid out from its top record, or from the bottom when the
view is at its end, so the last line always shows on the last row and every record can be reached.
"""

from __future__ import annotations


from rich.console import Console
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Offset, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollTo
from textual.selection import Selection
from textual.strip import Strip

from kbc_tui.model.job import LogLine
from kbc_tui.model.text import printable

LEVEL_STYLE = {"debug": "dim", "info": "green", "warning": "bold yellow", "error": "bold red"}
TEXT_STYLE = {"debug": "dim", "warning": "yellow", "error": "red"}
PREFIX_WIDTH = len("00:00:00 WARNING ")
MIN_INDENTED_WIDTH = PREFIX_WIDTH + 20  # narrower than this, wrapped rows start at the left edge
SELECTION_MAX = 10_000  # lines a mouse selection copies at most
# records whose drawn rows are kept (a few screens): each row is a Strip of ~16 objects the garbage collector
# scans, and rows kept for long reach its older generations, whose passes stall the UI in proportion
RECORDS_KEPT = 256


def format_line(line: LogLine) -> str:
    """A record as plain text (the pager's file): ``HH:MM:SS LEVEL   text`` in local time."""
    return f"{line.time.astimezone().strftime('%H:%M:%S')} {line.level.upper():7} {printable(line.text)}"


def record_rows(line: LogLine, width: int, console: Console) -> list[Text]:
    """A record as rows of text: one row when ``width`` is 0, else wrapped to ``width``."""
    prefix = Text(end="")
    prefix.append(line.time.astimezone().strftime("%H:%M:%S "), style="dim")
    prefix.append(f"{line.level.upper():7} ", style=LEVEL_STYLE.get(line.level, ""))
    style = TEXT_STYLE.get(line.level, "")
    parts = [part.expandtabs() for part in printable(line.text).split("\n")]  # ESC shows as \x1b, never acts
    if not width:
        row = prefix
        for i, part in enumerate(parts):
            if i:
                row.append(" ⏎ ", style="dim")
            row.append(part, style=style)
        return [row]
    indent = PREFIX_WIDTH if width >= MIN_INDENTED_WIDTH else 0
    rows: list[Text] = []
    for i, part in enumerate(parts):
        body = Text(part, style=style, end="")
        if not indent and i == 0:
            body = prefix + body
        pieces = body.wrap(console, width - indent, overflow="fold") if body.cell_len else [Text(end="")]
        for j, piece in enumerate(pieces):
            head = prefix if indent and i == 0 and j == 0 else Text(" " * indent, end="")
            rows.append(head + piece if indent else piece)
    return rows


class LogLines(ScrollView, can_focus=True):
    """The log of one job. ``reload()`` takes in new lines (and follows the end when ``follow`` is on)."""

    COMPONENT_CLASSES = {"log-lines--match"}
    DEFAULT_CSS = """
    LogLines { scrollbar-gutter: stable; }
    LogLines > .log-lines--match { background: $warning 35%; }
    """

    def __init__(self, source, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source = source  # a JobLogView
        self.wrap = False
        self.follow = True
        self.match_id: int | None = None  # the record of the current search match, highlighted
        self._rows: LRUCache[tuple, list[Strip]] = LRUCache(RECORDS_KEPT)
        self._max_width = 0
        self._frame_key: tuple | None = None
        self._frame: list[Strip] = []

    @property
    def line_count(self) -> int:
        return self.source.count

    # -- data ----------------------------------------------------------------------------------
    def reload(self) -> None:
        """Take in lines logged since the last call; show the end if following."""
        before = self.source.count
        if self.source.refresh() != before:
            self._update_virtual_size()
            self.refresh()
        if self.follow:
            self.to_end()

    def set_wrap(self, wrap: bool) -> None:
        self.wrap = wrap
        self._update_virtual_size()
        self.refresh()
        if self.follow:
            self.to_end()

    # -- follow: moving up pauses it, the end key resumes it --------------------------------------------
    class FollowChanged(Message):
        """Scrolling turned following on or off."""

    def set_follow(self, follow: bool) -> None:
        if follow != self.follow:
            self.follow = follow
            self.post_message(self.FollowChanged())
        if follow:
            self.to_end()

    def action_scroll_up(self) -> None:
        self.set_follow(False)
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self.set_follow(False)
        super().action_page_up()

    def action_scroll_home(self) -> None:
        self.set_follow(False)
        super().action_scroll_home()

    def action_scroll_end(self) -> None:
        self.set_follow(True)

    def on_mouse_scroll_up(self) -> None:
        self.set_follow(False)

    def on_scroll_up(self) -> None:  # a click on the scrollbar above its thumb
        self.set_follow(False)

    def on_scroll_to(self, message: ScrollTo) -> None:  # the scrollbar's thumb dragged
        if message.y is not None and message.y < self.max_scroll_y:
            self.set_follow(False)

    def to_end(self) -> None:
        """Show the last line (forced: before the first layout there is no scrollbar to allow it)."""
        self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def show_line(self, position: int, match_id: int | None = None) -> None:
        """Scroll so that line ``position`` is near the top (two lines of context above it)."""
        self.match_id = match_id
        self.follow = False
        self.refresh()
        self.scroll_to(y=max(0, position - 2), animate=False, immediate=True)

    # -- layout ----------------------------------------------------------------------------------
    def on_resize(self) -> None:
        self._update_virtual_size()
        if self.follow:
            self.to_end()

    def on_unmount(self) -> None:
        """The log's pages and drawn rows go now; the screen's widgets follow at the next collection."""
        self._rows.clear()
        self._frame = []
        self.source.forget()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._rows.clear()
        self._frame_key = None

    def _update_virtual_size(self) -> None:
        count = self.source.count
        if self.follow:  # after the layout: a scrollbar that appears takes a row
            self.call_after_refresh(self.to_end)
        if not self.wrap:
            self.virtual_size = Size(self._max_width, count)
            return
        width, height = self._wrap_size()
        fit, used = 0, 0  # records that fit whole at the bottom: the last scroll position shows them
        for position in range(count - 1, -1, -1):
            used += len(self._record(position, width))
            if used > height:
                break
            fit += 1
        self.virtual_size = Size(width, count - max(fit, 1) + height if count else 0)

    def _wrap_size(self) -> tuple[int, int]:
        region = self.scrollable_content_region
        return max(1, region.width), max(1, region.height)

    # -- mouse selection (without wrap: a row is a record) ------------------------------------------------
    @property
    def allow_select(self) -> bool:
        return not self.wrap

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The selected text, read from the history (at most ``SELECTION_MAX`` lines)."""
        count = self.source.count
        if self.wrap or not count:
            return None
        first = selection.start.y if selection.start is not None else 0
        last = selection.end.y if selection.end is not None else count - 1
        end = selection.end
        if last - first >= SELECTION_MAX:
            last, end = first + SELECTION_MAX - 1, None
        console = self.app.console
        rows = [record_rows(self.source.line(n), 0, console)[0].plain
                for n in range(first, min(last, count - 1) + 1)]
        start = selection.start and Offset(selection.start.x, 0)
        end = end and Offset(end.x, end.y - first)
        return Selection(start, end).extract("\n".join(rows)), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()

    # -- drawing ------------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if self.wrap:
            frame = self._wrapped_frame()
            strip = frame[y] if y < len(frame) else Strip.blank(0)
            return strip.crop_extend(0, width, self.rich_style)
        rows = self._record(scroll_y + y, 0)
        return rows[0].crop_extend(scroll_x, scroll_x + width, self.rich_style).apply_offsets(scroll_x, scroll_y + y)

    def _wrapped_frame(self) -> list[Strip]:
        width, height = self._wrap_size()
        top = self.scroll_offset.y
        key = (top, width, height, self.source.count, self.match_id, self.max_scroll_y)
        if key == self._frame_key:
            return self._frame
        count = self.source.count
        rows: list[Strip] = []
        if top >= self.max_scroll_y:  # at the end: lay out upwards from the last record
            position = count - 1
            while position >= 0 and len(rows) < height:
                rows[:0] = self._record(position, width)
                position -= 1
            rows = rows[-height:]
        else:
            position = top
            while position < count and len(rows) < height:
                rows.extend(self._record(position, width))
                position += 1
            rows = rows[:height]
        self._frame_key, self._frame = key, rows
        return rows

    def _record(self, position: int, width: int) -> list[Strip]:
        """The rows of record ``position`` (``width`` 0: unwrapped), cached."""
        line = self.source.line(position)
        if line is None:
            return [Strip.blank(0)]
        matched = line.id is not None and line.id == self.match_id
        selection = self.text_selection
        span = selection.get_span(position) if selection is not None and not width else None
        key = (position, width, matched)
        cached = self._rows.get(key) if span is None else None
        if cached is not None:
            return cached
        base = self.rich_style
        if matched:
            base += self.get_component_rich_style("log-lines--match")
        console = self.app.console
        strips = []
        for text in record_rows(line, width, console):
            text.stylize_before(base)  # the widget's colours under the level's
            if span is not None:
                text.stylize(self.screen.get_component_rich_style("screen--selection"), span[0],
                             len(text) if span[1] == -1 else span[1])
            strips.append(Strip(list(text.render(console)), text.cell_len))
        if span is None:
            self._rows[key] = strips
        if not width and strips[0].cell_length > self._max_width:
            self._max_width = strips[0].cell_length
            self.call_later(self._update_virtual_size)
        return strips
