"""Modal dialogs: confirm (y / n / escape), a one-line prompt with validation, unsaved changes."""

from __future__ import annotations

from typing import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from kbc_tui.model.text import check_no_control, one_line, printable


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question. ``y`` / ``n`` / ``escape``; the result is True for yes."""

    HELP_NAME = "Question"  # the help screen's title over this dialog
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n", "answer(False)", "No"),
                Binding("escape", "answer(False)", "Cancel")]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(printable(self.question), classes="question", markup=False)  # it quotes names
            with Horizontal(classes="buttons"):
                yield Button(Content(f"{self.yes} [y]"), id="yes", variant="error")  # not markup: [y] shows
                yield Button(Content(f"{self.no} [n]"), id="no")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class PromptModal(ModalScreen[str | None]):
    """Ask for one line of text; ``check(text)`` returns an error message or None. Escape cancels."""

    HELP_NAME = "Prompt"  # the help screen's title over this dialog
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

    HELP_NAME = "Unsaved changes"  # the help screen's title over this dialog
    BINDINGS = [Binding("escape", "choose('keep')", "Keep editing"), Binding("k", "choose('keep')", "Keep editing"),
                Binding("d", "choose('discard')", "Discard"), Binding("s", "choose('save')", "Save")]

    def __init__(self, message: str = "You have unsaved changes.") -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(printable(self.message), classes="question", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(Content("Keep editing [k]"), id="keep", variant="primary")  # not markup: [k] shows
                yield Button(Content("Discard [d]"), id="discard", variant="error")
                yield Button(Content("Save [s]"), id="save", variant="success")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "keep")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)


class NameAndIdModal(ModalScreen[tuple[str, str] | None]):
    """Ask for a name and the id made from it (the file name), before anything is created.

    The id field shows ``propose(name)`` and follows the name as it is typed, until the user edits the id;
    ``check_id(id)`` says what is wrong with an id (allowed characters, already taken) as you type. Enter in
    either field accepts both; escape cancels. The result is ``(name, id)``."""

    HELP_NAME = "Name and id"  # the help screen's title over this dialog
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, *, name: str = "", placeholder: str = "",
                 propose: Callable[[str], str], check_id: Callable[[str], str | None]) -> None:
        super().__init__()
        self.title_text, self.name_value, self.placeholder = title, name, placeholder
        self.propose, self.check_id = propose, check_id
        self.id_edited = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(printable(self.title_text), classes="question", markup=False)
            yield Label("Name")
            yield Input(one_line(self.name_value), placeholder=self.placeholder, id="new-name")
            yield Label("Id (the file orchestrations/<id>.toml; a-z, 0-9, '-' and '_')")
            yield Input(self.propose(self.name_value) if self.name_value.strip() else "", id="new-id")
            yield Static("", id="prompt-error", classes="error", markup=False)
            yield Label("enter: create · tab: to the id · escape: cancel", classes="hint")

    def _values(self) -> tuple[str, str]:
        return self.query_one("#new-name", Input).value.strip(), self.query_one("#new-id", Input).value.strip()

    def _error(self) -> str | None:
        name, new_id = self._values()
        if not name:
            return "the name cannot be empty"
        if check_no_control(name):
            return f"the name {check_no_control(name)}"
        if not new_id:
            return "the id cannot be empty"
        return self.check_id(new_id)

    @on(Input.Changed, "#new-name")
    def _name_changed(self, event: Input.Changed) -> None:
        if not self.id_edited:
            self.query_one("#new-id", Input).value = self.propose(event.value) if event.value.strip() else ""
        self._show_error()

    @on(Input.Changed, "#new-id")
    def _id_changed(self, event: Input.Changed) -> None:
        name = self.query_one("#new-name", Input).value
        proposed = self.propose(name) if name.strip() else ""
        self.id_edited = event.value != proposed  # typed by the user, not filled in from the name
        self._show_error()

    def _show_error(self) -> None:
        name, new_id = self._values()
        self.query_one("#prompt-error", Static).update((self._error() or "") if name or new_id else "")

    @on(Input.Submitted)
    def _submitted(self) -> None:
        error = self._error()
        if error:
            self.query_one("#prompt-error", Static).update(error)
            return
        self.dismiss(self._values())

    def action_cancel(self) -> None:
        self.dismiss(None)
