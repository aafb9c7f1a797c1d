"""The last guard between what the app draws and the terminal: no control character reaches it.

Names, descriptions, log lines and server messages are shown with their control characters made visible
(``kbc_tui.model.text``) where the screens build them; this filter (Textual's ``LineFilter``, applied to
every line of every widget) removes any that got through some other way — a widget's own text, a new
screen that forgot — so an ``ESC ] 0 ; … BEL`` in a file can never retitle or clear the terminal.
Control characters are zero cells wide, so removing them changes no layout.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from kbc_tui.model.text import CONTROLS

_REMOVE = str.maketrans(dict.fromkeys(CONTROLS))


class NoControlCharacters(LineFilter):
    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        if all(segment.text.isprintable() for segment in segments):  # nearly always: nothing to do
            return segments
        out = []
        for segment in segments:
            text = segment.text if segment.control else segment.text.translate(_REMOVE)
            if text:
                out.append(segment if text == segment.text else Segment(text, segment.style, segment.control))
        return out
