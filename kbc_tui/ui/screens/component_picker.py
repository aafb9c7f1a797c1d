"""Pick component configurations to add as tasks: grouped Extractors / Transformations / Writers.

Manual components (a CSV upload) are never offered. Configurations already in the orchestration are marked
(they can still be added again). ``space`` marks several, ``enter`` adds them (or the highlighted one when
none is marked), ``escape`` cancels.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, SelectionList
from textual.widgets.selection_list import Selection

from kbc_tui.model.component import ComponentConfig
from kbc_tui.model.text import one_line
from kbc_tui.ui.format import plain


class ComponentPicker(ModalScreen[list[ComponentConfig]]):
    BINDINGS = [Binding("enter", "add", "Add selected", priority=True), Binding("escape", "cancel", "Cancel")]

    def __init__(self, in_use: set[str] | frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.in_use = set(in_use)  # refs of the configurations the orchestration already runs

    def compose(self) -> ComposeResult:
        groups = self.app.project.automatable_components()
        options: list[Selection] = []
        self.configs: dict[str, ComponentConfig] = {}
        for kind, configs in groups.items():
            options.append(Selection(Text(kind.plural, style="bold underline"), f"#group-{kind.value}",
                                     disabled=True))
            if not configs:
                options.append(Selection(Text("  (none configured)", style="dim"), f"#none-{kind.value}",
                                         disabled=True))
            for cfg in configs:
                label = plain(f"  {cfg.name}")
                if cfg.ref in self.in_use:  # before the reference: still seen when a narrow dialog cuts the row
                    label.append("  (already a task)", style="bold yellow")
                label.append(f"  {one_line(cfg.ref)}", style="dim")
                options.append(Selection(label, cfg.ref))
                self.configs[cfg.ref] = cfg
        with Vertical(classes="dialog picker"):
            yield Label("Add tasks — space: mark · enter: add · escape: cancel", classes="question")
            yield SelectionList(*options, id="picker")

    def on_mount(self) -> None:
        picker = self.query_one(SelectionList)
        picker.focus()
        for index in range(picker.option_count):
            if not picker.get_option_at_index(index).disabled:
                picker.highlighted = index
                break

    def action_add(self) -> None:
        picker = self.query_one(SelectionList)
        chosen = [ref for ref in picker.selected if ref in self.configs]
        if not chosen and picker.highlighted is not None:
            value = picker.get_option_at_index(picker.highlighted).value
            if value in self.configs:
                chosen = [value]
        # keep the picker's order (grouped), not the order of marking
        order = [ref for ref in self.configs if ref in chosen]
        self.dismiss([self.configs[ref] for ref in order])

    def action_cancel(self) -> None:
        self.dismiss([])
