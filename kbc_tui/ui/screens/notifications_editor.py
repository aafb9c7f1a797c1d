"""Edit an orchestration's ``[notifications]``: an address list per event (error, warning, success and
processing, with its tolerance), each address checked before it is added, and a test e-mail that reports
success or the SMTP error in words."""

from __future__ import annotations

import copy

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Header, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from kbc_tui.model.orchestration import EVENTS, Notifications
from kbc_tui.model.validate import check_email
from kbc_tui.ui.format import plain
from kbc_tui.ui.screens._editor import SAVE_AND_LEAVE, EditorScreen, send_test_email_into

EVENT_LABELS = {"error": "On error", "warning": "On warning", "success": "On success",
                "processing": "Long-running"}
EVENT_HINTS = {"error": "the job failed, was cancelled, or its process died",
               "warning": "a task with continue_on_failure failed",
               "success": "the job finished without a problem",
               "processing": "the job runs longer than its usual duration + tolerance"}
NOBODY = "__nobody__"


class AddressList(OptionList):
    """One event's addresses; delete/backspace removes the highlighted one."""

    BINDINGS = [Binding("delete,backspace", "remove", "Remove address")]

    def __init__(self, event: str, addresses: list[str]) -> None:
        super().__init__(id=f"list-{event}", classes="addresses")
        self.event = event
        self.addresses = list(addresses)

    def on_mount(self) -> None:
        self.show()

    def show(self) -> None:
        self.clear_options()
        if self.addresses:
            self.add_options([Option(plain(a), id=a) for a in self.addresses])
        else:
            self.add_option(Option("(nobody)", id=NOBODY, disabled=True))

    @property
    def highlighted_address(self) -> str | None:
        if self.highlighted is None or not self.addresses:
            return None
        return self.addresses[self.highlighted] if self.highlighted < len(self.addresses) else None

    def action_remove(self) -> None:
        address = self.highlighted_address
        if address is None:
            return
        index = self.addresses.index(address)
        self.addresses.remove(address)
        self.show()
        if self.addresses:
            self.highlighted = min(index, len(self.addresses) - 1)


class NotificationsEditor(EditorScreen):
    BINDINGS = [*SAVE_AND_LEAVE, Binding("ctrl+t", "test_email", "Send test e-mail")]

    def __init__(self, orchestration_id: str) -> None:
        super().__init__()
        self.orch_id = orchestration_id
        self.original = copy.deepcopy(self.app.project.orchestrations[orchestration_id].notifications)

    def compose(self) -> ComposeResult:
        project = self.app.project
        orch = project.orchestrations[self.orch_id]
        user = project.settings.user.effective_email
        smtp = project.settings.smtp
        yield Header()
        with VerticalScroll(id="notifications-editor"):
            yield Static(plain(f"Notifications of {orch.name}"), classes="title")
            yield Static(
                "Scheduled runs e-mail these lists. A manual run e-mails only the person who ran it "
                f"({user or 'your address is not set: S on the home screen'}), for the events that have an "
                "address here.", classes="hint", id="rules", markup=False)
            yield Static(plain(f"SMTP server: {smtp.host}:{smtp.port} ({smtp.security})") if smtp.configured
                         else "No SMTP server is set: nothing can be sent (S on the home screen).",
                         id="smtp-state", classes="hint" if smtp.configured else "error", markup=False)
            for event in EVENTS:
                with Horizontal(classes="event-row"):
                    with Vertical(classes="event-label"):
                        yield Label(EVENT_LABELS[event], classes="event-name")
                        yield Static(EVENT_HINTS[event], classes="hint")
                    yield AddressList(event, getattr(self.original, event))
                    with Vertical(classes="event-add"):
                        yield Input(placeholder="add an address, enter", id=f"add-{event}", classes="add")
                        yield Static("", id=f"problem-{event}", classes="error", markup=False)
                        if event == "processing":
                            with Horizontal(classes="tolerance"):
                                yield Label("Tolerance %", classes="tolerance-label")
                                yield Input(str(self.original.processing_tolerance), id="tolerance",
                                            type="integer", classes="short")
            yield Static("", id="problem", classes="error")
            yield Static("", id="test-result")
            yield Static("enter: add · delete: remove · ctrl+t: test e-mail to the highlighted address · "
                         "ctrl+s: save · escape: back", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#add-error", Input).focus()
        for event in EVENTS:
            self.say("", event)

    # -- state -------------------------------------------------------------------------------------------
    def lists(self) -> dict[str, AddressList]:
        return {w.event: w for w in self.query(AddressList)}

    def tolerance(self) -> int | None:
        text = self.query_one("#tolerance", Input).value.strip()
        try:
            value = int(text)
        except ValueError:
            return None
        return value if 0 <= value <= 10000 else None

    def current(self) -> Notifications:
        lists = self.lists()
        return Notifications(**{e: list(lists[e].addresses) for e in EVENTS},
                             processing_tolerance=self.tolerance() if self.tolerance() is not None
                             else self.original.processing_tolerance)

    def pending(self) -> dict[str, str]:
        """Addresses typed into an event's field but not added with enter yet."""
        return {e: text for e in EVENTS if (text := self.query_one(f"#add-{e}", Input).value.strip())}

    @property
    def dirty(self) -> bool:
        return self.current() != self.original or self.tolerance() is None or bool(self.pending())

    def say(self, problem: str, event: str | None = None) -> None:
        """Show ``problem`` next to the event's field (or below the form); "" clears it."""
        where = f"#problem-{event}" if event else "#problem"
        self.query_one(where, Static).update(plain(problem))
        if event:
            self.query_one(where, Static).display = bool(problem)  # takes no room when there is nothing to say

    def add_address(self, event: str, address: str) -> bool:
        """Put ``address`` on the event's list (once); False (said next to the field) if it is not valid."""
        problem = check_email(address)
        if problem:
            self.say(problem, event)
            return False
        target = self.lists()[event]
        if address.lower() not in (a.lower() for a in target.addresses):
            target.addresses.append(address)
            target.show()
        self.query_one(f"#add-{event}", Input).value = ""
        self.say("", event)
        return True

    # -- adding and removing ----------------------------------------------------------------------------------
    @on(Input.Submitted, ".add")
    def _add(self, event: Input.Submitted) -> None:
        name = (event.input.id or "").removeprefix("add-")
        address = event.value.strip()
        if not address:
            return
        target = self.lists()[name]
        if check_email(address) is None and address.lower() in (a.lower() for a in target.addresses):
            self.say(f"{address} is already on the {name} list", name)
            return
        self.add_address(name, address)  # refused: the typed text stays, to be corrected

    @on(Input.Changed, ".add")
    def _typed(self, event: Input.Changed) -> None:
        self.say("", (event.input.id or "").removeprefix("add-"))

    @on(Input.Changed, "#tolerance")
    def _tolerance(self) -> None:
        self.say("" if self.tolerance() is not None else "Tolerance: a whole number of percent, 0 to 10000")

    # -- test e-mail -----------------------------------------------------------------------------------------------
    def test_address(self) -> str | None:
        focused = self.focused
        if isinstance(focused, AddressList) and focused.highlighted_address:
            return focused.highlighted_address
        if isinstance(focused, Input) and focused.has_class("add") and focused.value.strip():
            return focused.value.strip()
        return self.app.project.settings.user.effective_email or None

    def action_test_email(self) -> None:
        address = self.test_address()
        if address is None:
            self.say("Highlight an address (or type one) to send a test e-mail to")
            return
        self.send_test(address)

    @work(exclusive=True, group="test-email")
    async def send_test(self, address: str) -> None:
        await send_test_email_into(self.query_one("#test-result", Static), self.app.project.settings,
                                   self.app.project.secrets, address)

    # -- save / leave ----------------------------------------------------------------------------------------------
    def save(self) -> bool:
        # an address typed but not added with enter is added now, or the save is refused: never dropped
        added = []
        for event, address in self.pending().items():
            if not self.add_address(event, address):
                field = self.query_one(f"#add-{event}", Input)
                field.focus()
                self.notify(f"Cannot save: {EVENT_LABELS[event]}: {check_email(address)} "
                            "(correct it, or empty the field)", severity="error", timeout=8)
                return False
            added.append(f"{address} ({EVENT_LABELS[event].lower()})")
        if self.tolerance() is None:
            self.notify("Cannot save: the tolerance must be a whole number of percent, 0 to 10000",
                        severity="error", timeout=8)
            return False
        notifications = self.current()
        if self.save_orchestration(self.orch_id, lambda orch: setattr(orch, "notifications", notifications)) is None:
            return False
        self.notify(f"Saved the notifications of {self.orch_id}"
                    + (f", with the typed address {', '.join(added)} added" if added else ""))
        return True

    def unsaved_message(self) -> str:
        pending = self.pending()
        if not pending:
            return super().unsaved_message()
        typed = ", ".join(f"{a} ({EVENT_LABELS[e].lower()})" for e, a in pending.items())
        return f"An address is typed but not added: {typed}. Save adds it (if it is valid)."
