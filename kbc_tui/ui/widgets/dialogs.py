"""Modal dialogs: confirm (y / n / escape), a one-line prompt with validation, unsaved changes."""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from kbc_tui.model.text import one_line, printable


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question. ``y`` / ``n`` / ``escape``; the result is True for yes."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n", "answer(False)", "No"),
                Binding("escape", "answer(False)", "Cancel")]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(printable(self.question), classes="question", markup=False)  # it quotes names
            with Horizontal(classes="buttons"):
                yield Button(Text(f"{self.yes} [y]"), id="yes", variant="error")  # text: "[y]" is no markup
                yield Button(Text(f"{self.no} [n]"), id="no")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class PromptModal(ModalScreen[str | None]):
    """Ask for one line of text; ``check(text)`` returns an error message or None. Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "",
                 check: Callable[[str], str | None] | None = None) -> None:
        super().__init__()
        self.title_text, self.value, self.placeholder, self.check = title, value, placeholder, check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(printable(self.title_text), classes="question", markup=False)
            yield Input(one_line(self.value), placeholder=self.placeholder, id="prompt-input")
            yield Static("", id="prompt-error", classes="error", markup=False)
            yield Label("enter: OK · escape: cancel", classes="hint")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        error = self.check(event.value) if self.check and event.value else None
        self.query_one("#prompt-error", Static).update(error or "")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        error = self.check(text) if self.check else None
        if not text:
            error = "cannot be empty"
        if error:
            self.query_one("#prompt-error", Static).update(error)
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class UnsavedModal(ModalScreen[str]):
    """Unsaved changes: 'keep' editing, 'discard' them, or 'save' them."""

    BINDINGS = [Binding("escape", "choose('keep')", "Keep editing"), Binding("k", "choose('keep')", "Keep editing"),
                Binding("d", "choose('discard')", "Discard"), Binding("s", "choose('save')", "Save")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("You have unsaved changes.", classes="question")
            with Horizontal(classes="buttons"):
                yield Button(Text("Keep editing [k]"), id="keep", variant="primary")
                yield Button(Text("Discard [d]"), id="discard", variant="error")
                yield Button(Text("Save [s]"), id="save", variant="success")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "keep")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)
