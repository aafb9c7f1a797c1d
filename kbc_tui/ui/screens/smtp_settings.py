"""Edit ``[smtp]`` and ``[user] email`` of ``kbc.toml``: the server notifications are sent through.

The password is never shown: the field starts empty and says whether one is stored; what is typed
replaces it and is saved encrypted (or as ``env:VAR``, a reference to an environment variable). A test
e-mail uses what the form holds now, saved or not, and reports success or the SMTP error in words.
"""

from __future__ import annotations

import copy
import os

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Header, Input, Label, Select, Static, Switch

from kbc_tui.errors import KbcError
from kbc_tui.model.fields import number_problem
from kbc_tui.model.project import SMTP_SECURITY, ProjectSettings, check_file
from kbc_tui.model.validate import check_email, check_host
from kbc_tui.ui.screens._editor import SAVE_AND_LEAVE, EditorScreen, send_test_email_into
from kbc_tui.ui.widgets.dialogs import ConfirmModal
from kbc_tui.ui.widgets.footer import KbcFooter

SECURITY_LABELS = {"none": "none (plain, port 25)", "starttls": "STARTTLS (port 587)", "tls": "TLS (port 465)"}
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}


def password_hint(raw: str) -> str:
    if not raw:
        return "none stored; type one if the server needs a login"
    if raw.startswith("env:"):
        return f"read from the environment variable {raw[4:]}; type to replace"
    return "stored, encrypted; type a new one to replace it"


class SmtpSettingsScreen(EditorScreen):
    HELP_NAME = "SMTP settings"
    BINDINGS = [*SAVE_AND_LEAVE, Binding("ctrl+t", "test_email", "Send test e-mail")]

    #: the person said yes to saving with "Your e-mail" emptied (kbc.toml then has no [user] email)
    clearing_email_confirmed = False

    def __init__(self) -> None:
        super().__init__()
        self.original = copy.deepcopy(self.app.project.settings)

    def compose(self) -> ComposeResult:
        smtp, user = self.original.smtp, self.original.user

        def row(label: str, widget) -> Horizontal:
            return Horizontal(Label(label, classes="field-label"), widget, classes="row")

        def problem(field: str) -> Static:  # a field's problem, right under it (hidden while there is none)
            return Static("", id=f"{field}-problem", classes="error field-problem", markup=False)

        yield Header()
        with Vertical(id="smtp-head"):  # what ctrl+t and ctrl+s answer stays on screen while the form scrolls
            yield Static("E-mail server (SMTP) for notifications — kbc.toml [smtp]", classes="title", markup=False)
            yield Static("ctrl+t: send a test e-mail to your address · ctrl+s: save · escape: back", classes="hint")
            yield Static("", id="test-result")
        with VerticalScroll(id="smtp-settings"):
            yield row("Host", Input(smtp.host, id="host", placeholder="smtp.example.com"))
            yield problem("host")
            yield row("Security", Select([(SECURITY_LABELS[s], s) for s in SMTP_SECURITY], value=smtp.security,
                                         id="security", allow_blank=False))
            yield row("Port", Input(str(smtp.port), id="port", type="integer", classes="short"))
            yield problem("port")
            yield row("Username", Input(smtp.username, id="username", placeholder="(no login)"))
            yield row("Password", Input("", id="password", password=True, placeholder=password_hint(smtp.password)))
            yield Static("", id="warning", classes="warning")  # a password sent unencrypted
            yield row("From", Input(smtp.from_address, id="from", placeholder="kbc@example.com (default: username)"))
            yield problem("from")
            yield row("Verify TLS", Switch(smtp.verify, id="verify"))
            yield row("CA file", Input(smtp.ca_file, id="ca_file", placeholder="PEM file to trust (optional)"))
            yield problem("ca_file")
            yield row("Timeout (s)", Input(f"{smtp.timeout_seconds:g}", id="timeout", type="number", classes="short"))
            yield problem("timeout")
            yield Static("You — manual runs e-mail only the person who ran them ([user] email; KBC_USER_EMAIL wins)",
                         classes="section", markup=False)  # wraps at 80 columns (app.tcss)
            yield row("Your e-mail", Input(user.email, id="user-email", placeholder="you@example.com"))
            yield problem("user-email")
        yield KbcFooter()

    def on_mount(self) -> None:
        self.query_one("#host", Input).focus()
        self.show_problems({})
        self.show_warning()

    # -- the form ------------------------------------------------------------------------------------------
    def value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def form(self) -> tuple[ProjectSettings, dict[str, str]]:
        """The settings the form describes, and their problems by field id (empty: all good)."""
        settings = copy.deepcopy(self.original)
        smtp = settings.smtp
        problems: dict[str, str] = {}
        smtp.host = self.value("host")
        if smtp.host and check_host(smtp.host):
            problems["host"] = f"Host: {check_host(smtp.host)}"
        smtp.security = str(self.query_one("#security", Select).value)
        try:
            smtp.port = int(self.value("port"))
            if not 1 <= smtp.port <= 65535:
                raise ValueError
        except ValueError:
            problems["port"] = "Port: a number from 1 to 65535"
        smtp.username = self.value("username")
        typed = self.query_one("#password", Input).value
        if typed:
            smtp.password = typed  # encrypted on save (an env:VAR reference is kept as it is)
        smtp.from_address = self.value("from")
        if smtp.from_address and check_email(smtp.from_address):
            problems["from"] = f"From: {check_email(smtp.from_address)}"
        smtp.verify = self.query_one("#verify", Switch).value
        smtp.ca_file = self.value("ca_file")
        ca_problem = check_file(smtp.ca_file, self.app.project.root)
        if ca_problem:
            problems["ca_file"] = f"CA file: {ca_problem}"
        try:
            smtp.timeout_seconds = float(self.value("timeout"))
            if number_problem(smtp.timeout_seconds, minimum=1):  # 1e999 is a float: inf
                raise ValueError
        except ValueError:
            problems["timeout"] = "Timeout: a number of seconds, at least 1"
        settings.user.email = self.value("user-email")
        if settings.user.email and check_email(settings.user.email):
            problems["user-email"] = f"Your e-mail: {check_email(settings.user.email)}"
        return settings, problems

    def show_problems(self, problems: dict[str, str]) -> None:
        """Each field's problem under it; the others' lines take no room."""
        for shown in self.query(".field-problem").results(Static):
            field = (shown.id or "").removesuffix("-problem")
            shown.update(Text(problems.get(field, "")))
            shown.display = field in problems
        if problems:  # the first one on screen, the form scrolled if need be
            self.call_after_refresh(self.query_one(f"#{next(iter(problems))}-problem").scroll_visible, animate=False)

    @property
    def dirty(self) -> bool:
        settings, _ = self.form()
        return settings != self.original

    @on(Select.Changed, "#security")
    def _security(self, event: Select.Changed) -> None:
        port = self.query_one("#port", Input)
        if port.value.strip() in {str(p) for p in DEFAULT_PORTS.values()} or not port.value.strip():
            port.value = str(DEFAULT_PORTS.get(str(event.value), 25))

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        shown = self.query(f"#{event.input.id}-problem").results(Static)
        for problem in shown:  # what the field said is wrong goes as it is edited
            problem.update("")
            problem.display = False
        self.show_warning()

    @on(Select.Changed, "#security")
    def show_warning(self) -> None:
        warning = self.form()[0].smtp.unencrypted_password_warning()
        shown = self.query_one("#warning", Static)
        shown.update(Text(f"Warning: {warning}") if warning else "")
        shown.display = bool(warning)

    # -- test e-mail ------------------------------------------------------------------------------------------
    def action_test_email(self) -> None:
        settings, problems = self.form()
        self.show_problems(problems)
        if problems:
            return
        to = settings.user.effective_email
        if not to:
            self.show_problems({"user-email": "Enter your e-mail first: the test e-mail goes there"})
            return
        typed = self.query_one("#password", Input).value
        # a password typed but not saved yet is used as it is, and stored nowhere
        password = typed if typed and not typed.startswith("env:") else None
        self.send_test(settings, to, password)

    @work(exclusive=True, group="test-email")
    async def send_test(self, settings: ProjectSettings, to: str, password: str | None) -> None:
        await send_test_email_into(self.query_one("#test-result", Static), settings, self.app.project.secrets,
                                   to, password)

    # -- save / leave -----------------------------------------------------------------------------------------------
    def save(self) -> bool:
        settings, problems = self.form()
        self.show_problems(problems)
        if problems:
            self.query_one(f"#{next(iter(problems))}", Input).focus()
            self.notify("Cannot save: " + "; ".join(problems.values()), severity="error", timeout=8)
            return False
        if self.original.user.email and not settings.user.email and not self.clearing_email_confirmed:
            self.ask_to_clear_email()  # saves on yes
            return False
        try:
            self.app.project.save_settings(settings)
        except KbcError as exc:
            self.notify(f"Not saved: {exc}", severity="error", timeout=10)
            return False
        self.notify("Saved the e-mail settings in kbc.toml"
                    + (" (without your e-mail)" if self.original.user.email and not settings.user.email else ""))
        return True

    def ask_to_clear_email(self) -> None:
        """Before "Your e-mail" emptied is saved: say what it does, save on yes, back to the field on no."""
        env = os.environ.get("KBC_USER_EMAIL", "")
        after = (f"only KBC_USER_EMAIL ({env}) of this session is left for manual runs" if env else
                 "manual runs will e-mail nobody: their failures and successes reach no one")
        question = (f"Your e-mail is empty: saving removes {self.original.user.email} ([user] email) from "
                    f"kbc.toml, and {after}. The other settings are saved as shown. Save without your e-mail?")

        def answered(yes: bool | None) -> None:
            if yes:
                self.clearing_email_confirmed = True
                self.action_save()
            else:
                self.query_one("#user-email", Input).focus()

        self.app.push_screen(ConfirmModal(question, yes="Save without it", no="Keep editing"), answered)
