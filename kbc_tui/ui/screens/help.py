"""``?``: the keys of the screen underneath (its own, and its kbc-tui widgets'), and the app's, with what they do.

Textual's own widgets' keys (an input's cursor keys, a table's scrolling) are left out: they work as everywhere."""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static


def own_bindings(node) -> list:
    """The bindings kbc-tui declares on ``node``'s classes (not those Textual's classes declare)."""
    found = []
    for cls in type(node).__mro__:
        if cls.__module__.startswith("kbc_tui.") and "BINDINGS" in vars(cls):
            found += vars(cls)["BINDINGS"]
    return found


def screen_name(screen: Screen) -> str:
    """The screen's name for people ("Task editor"), from its ``HELP_NAME`` or else its class."""
    name = getattr(screen, "HELP_NAME", "")
    if name:
        return name
    words = type(screen).__name__.removesuffix("Screen")
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", words).capitalize()


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss", "Close"), Binding("question_mark", "dismiss", "Close"),
                Binding("q", "dismiss", "Close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        yield Static(f"Keys: {screen_name(self.under)}  (escape closes)", classes="title", markup=False)
        yield DataTable(id="help-keys", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Key")
        table.add_column("Does")
        seen = set()
        for node in (self.under, *self.under.query("*"), self.app):
            for binding in own_bindings(node):
                if not isinstance(binding, Binding) or not binding.description:
                    continue
                for key in binding.key.split(","):
                    display = binding.key_display or self.app.get_key_display(Binding(key.strip(), ""))
                    if (display, binding.description) in seen:
                        continue
                    seen.add((display, binding.description))
                    table.add_row(display, binding.description)
        table.add_row("ctrl+p", "Command palette: “noun: verb” commands")
        table.focus()
