"""What the editor screens share: ctrl+s saves, escape leaves (asking first about unsaved changes),
and the test e-mail whose result is shown in words."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from kbc_tui.errors import KbcError


class EditorScreen(Screen[bool]):
    """Subclasses give ``dirty`` and ``action_save() -> bool`` (which dismisses with True when saved)."""

    BINDINGS = [Binding("ctrl+s", "save", "Save"), Binding("escape", "leave", "Back")]
    editing = True  # the app does not reload the project under an open editor

    @property
    def dirty(self) -> bool:
        raise NotImplementedError

    def action_save(self) -> bool:
        raise NotImplementedError

    def action_leave(self) -> None:
        if not self.dirty:
            self.dismiss(False)
            return
        from kbc_tui.ui.widgets.dialogs import UnsavedModal

        def chosen(choice: str | None) -> None:
            if choice == "discard":
                self.dismiss(False)
            elif choice == "save":
                self.action_save()

        self.app.push_screen(UnsavedModal(), chosen)


async def send_test_email_into(result: Static, settings, secrets, to: str, password: str | None = None) -> None:
    """Send a test e-mail and show, in ``result``, that it went or why not (the SMTP error in words)."""
    from kbc_tui.engine.mail import send_test_email

    result.update(Text(f"Sending a test e-mail to {to}…"))
    try:
        await send_test_email(settings, secrets, to, password=password)
    except KbcError as exc:
        result.update(Text.assemble((f"Test e-mail to {to} failed: ", "bold red"), str(exc)))
        return
    result.update(Text.assemble((f"Test e-mail sent to {to}.", "bold green"), " Check that inbox."))
