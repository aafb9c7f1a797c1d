"""``?``: every key binding of the screen underneath, with its description."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss", "Close"), Binding("question_mark", "dismiss", "Close"),
                Binding("q", "dismiss", "Close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        yield Static(f"Keys: {type(self.under).__name__.replace('Screen', '')}  (escape closes)", classes="title")
        yield DataTable(id="help-keys", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Key")
        table.add_column("Does")
        seen = set()
        for node in (self.under, *self.under.query("*"), self.app):
            for binding in getattr(node, "BINDINGS", []):
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
