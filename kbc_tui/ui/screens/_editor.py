"""What the editor screens share: ctrl+s saves, escape leaves (asking first about unsaved changes),
and the test e-mail whose result is shown in words."""

from __future__ import annotations

import copy
from typing import Callable

from rich.text import Text
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from kbc_tui.errors import KbcError
from kbc_tui.model.orchestration import Orchestration
from kbc_tui.model.text import one_line, printable


#: the editors' own keys (each screen lists them where its footer shows them)
SAVE_AND_LEAVE = [Binding("ctrl+s", "save", "Save"), Binding("escape", "leave", "Back")]


class EditorScreen(Screen[bool]):
    """Subclasses give ``dirty`` and ``save() -> bool``. ctrl+s saves (and closes the editor unless
    ``leave_after_save`` is off); escape closes it, asking Keep editing / Discard / Save when something is
    unsaved. The screen's result: whether anything was saved."""

    editing = True  # the app does not reload the project under an open editor
    leave_after_save = True
    was_saved = False

    @property
    def dirty(self) -> bool:
        raise NotImplementedError

    def save(self) -> bool:
        raise NotImplementedError

    def action_save(self) -> None:
        if self.save():
            self.was_saved = True
            if self.leave_after_save:
                self.dismiss(True)

    def action_leave(self) -> None:
        if not self.dirty:
            self.dismiss(self.was_saved)
            return
        from kbc_tui.ui.widgets.dialogs import UnsavedModal

        def chosen(choice: str | None) -> None:
            if choice == "discard":
                self.dismiss(self.was_saved)
            elif choice == "save" and self.save():
                self.dismiss(True)

        self.app.push_screen(UnsavedModal(self.unsaved_message()), chosen)

    def unsaved_message(self) -> str:
        """What the question on leaving says is unsaved."""
        return "You have unsaved changes."

    def save_orchestration(self, orch_id: str, change: Callable[[Orchestration], None]) -> Orchestration | None:
        """Save a copy of the orchestration with ``change`` applied; None (after saying why) if it cannot be."""
        project = self.app.project
        orch = project.orchestrations.get(orch_id)
        if orch is None:
            self.notify("The orchestration no longer exists", severity="error")
            return None
        updated = copy.deepcopy(orch)
        change(updated)
        try:
            project.save_orchestration(updated)
        except KbcError as exc:
            self.notify(f"Not saved: {exc}", severity="error", timeout=10)
            return None
        return updated


async def send_test_email_into(result: Static, settings, secrets, to: str, password: str | None = None) -> None:
    """Send a test e-mail and show, in ``result``, that it went or why not (the SMTP error in words)."""
    from kbc_tui.engine.mail import send_test_email

    shown = one_line(to)
    result.update(Text(f"Sending a test e-mail to {shown}…"))
    try:
        await send_test_email(settings, secrets, to, password=password)
    except KbcError as exc:  # the server's words: shown as text, control characters as escapes
        result.update(Text.assemble((f"Test e-mail to {shown} failed: ", "bold red"), printable(exc)))
        return
    result.update(Text.assemble((f"Test e-mail sent to {shown}.", "bold green"), " Check that inbox."))
