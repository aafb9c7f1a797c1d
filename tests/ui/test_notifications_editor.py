"""The notifications editor (m) and the SMTP settings screen (S) through Pilot, against a real SMTP server."""

from __future__ import annotations

import asyncio
import tomllib

from textual.widgets import Button, Input, Label, Select, Static

from kbc_tui.ui.screens.notifications_editor import AddressList, NotificationsEditor
from kbc_tui.ui.screens.orchestration import OrchestrationScreen
from kbc_tui.ui.screens.smtp_settings import SmtpSettingsScreen
from kbc_tui.ui.widgets.dialogs import UnsavedModal
from tests.servers.smtp import SmtpServer, free_port
from tests.ui.conftest import SIZE, wait_until

ORCH = "sales-to-gooddata"


def set_smtp(root, port: int) -> None:
    path = root / "kbc.toml"
    text = path.read_text()
    assert "[smtp]" not in text
    path.write_text(text + f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nfrom = "kbc@example.com"\n'
                           "timeout_seconds = 3\n")


async def open_editor(app, pilot) -> NotificationsEditor:
    app.push_screen(OrchestrationScreen(ORCH))
    await pilot.pause()
    await pilot.press("m")
    await pilot.pause()
    assert isinstance(app.screen, NotificationsEditor)
    return app.screen


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_invalid_address_is_refused_and_a_valid_one_is_saved(make_app, demo_project):
    path = demo_project / "orchestrations" / f"{ORCH}.toml"
    before = tomllib.loads(path.read_text())["notifications"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot)
        lists = editor.lists()
        assert editor.focused is editor.query_one("#add-error", Input)
        await pilot.press(*"ops.example.com", "enter")
        await pilot.pause()
        assert "invalid e-mail address 'ops.example.com'" in text_of(editor, "#problem-error")  # next to it
        assert lists["error"].addresses == before["error"]  # refused: not added
        assert editor.query_one("#add-error", Input).value == "ops.example.com"  # kept, to be corrected
        editor.query_one("#add-error", Input).value = ""
        await pilot.press(*"ops@example.com", "enter")
        await pilot.pause()
        assert text_of(editor, "#problem-error") == ""
        assert lists["error"].addresses == before["error"] + ["ops@example.com"]
        await pilot.press(*"OPS@example.com", "enter")  # the same address again
        await pilot.pause()
        assert "already on the error list" in text_of(editor, "#problem-error")
        # remove the first address: shift+tab to the list, delete
        editor.query_one("#add-error", Input).value = ""
        await pilot.press("shift+tab")
        assert isinstance(editor.focused, AddressList)
        lists["error"].highlighted = 0
        await pilot.press("delete")
        assert lists["error"].addresses == before["error"][1:] + ["ops@example.com"]
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, OrchestrationScreen)
    saved = tomllib.loads(path.read_text())["notifications"]
    assert saved["error"] == before["error"][1:] + ["ops@example.com"]
    assert saved.get("warning") == before.get("warning")


async def test_test_email_reports_success_and_the_smtp_error_in_words(make_app, demo_project):
    with SmtpServer() as server:
        set_smtp(demo_project, server.port)
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(app, pilot)
            first = editor.lists()["error"].addresses[0]
            await pilot.press("shift+tab")  # the error list, its first address highlighted
            editor.lists()["error"].highlighted = 0
            await pilot.press("ctrl+t")
            await wait_until(pilot, lambda: "sent" in text_of(editor, "#test-result"), message="test e-mail")
            assert text_of(editor, "#test-result").startswith(f"Test e-mail sent to {first}.")
            [mail] = await asyncio.to_thread(server.wait_for, 1)
            assert mail.recipients == [first]
    # the server is gone now: the same key says why, in words
    async with make_app().run_test(size=SIZE) as pilot:
        app = pilot.app
        editor = await open_editor(app, pilot)
        await pilot.press(*"me@example.com", "ctrl+t")
        await wait_until(pilot, lambda: "failed" in text_of(editor, "#test-result"), message="failure")
        assert text_of(editor, "#test-result").startswith(
            f"Test e-mail to me@example.com failed: cannot connect to SMTP server 127.0.0.1:{server.port}")


async def open_smtp_settings(app, pilot) -> SmtpSettingsScreen:
    await pilot.pause()
    await pilot.press("S")  # from the home screen
    await pilot.pause()
    assert isinstance(app.screen, SmtpSettingsScreen)
    return app.screen


async def test_smtp_settings_screen_saves_an_encrypted_password_and_tests_the_form(make_app, demo_project):
    app = make_app()
    port = free_port()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_smtp_settings(app, pilot)
        screen.query_one("#host", Input).value = "127.0.0.1"
        screen.query_one("#port", Input).value = str(port)
        screen.query_one("#username", Input).value = "kbc"
        screen.query_one("#password", Input).value = "hunter2-secret"
        screen.query_one("#user-email", Input).value = "not an address"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SmtpSettingsScreen)  # refused
        assert "invalid e-mail address 'not an address'" in text_of(screen, "#user-email-problem")  # under it
        screen.query_one("#user-email", Input).value = "me@example.com"
        with SmtpServer(port=port, users={"kbc": "hunter2-secret"}) as server:
            await pilot.press("ctrl+t")  # the unsaved form, password included, is what is tested
            await wait_until(pilot, lambda: "Test e-mail" in text_of(screen, "#test-result")
                             and "Sending" not in text_of(screen, "#test-result"), message="test e-mail")
            assert text_of(screen, "#test-result").startswith("Test e-mail sent to me@example.com.")
            assert len(server.wait_for(1)) == 1
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, SmtpSettingsScreen)
    text = (demo_project / "kbc.toml").read_text()
    data = tomllib.loads(text)
    assert data["smtp"]["host"] == "127.0.0.1" and data["smtp"]["port"] == port
    assert data["smtp"]["#password"].startswith("KBC::Encrypted::")
    assert "hunter2-secret" not in text
    assert data["user"]["email"] == "me@example.com"


async def test_job_screen_shows_the_e_mail_of_a_manual_run(make_app, demo_project):
    """A manual run in the app: its success e-mail goes to the user alone, and the job screen says so."""
    from kbc_tui.model.job import JobStatus
    from kbc_tui.ui.screens.job_detail import JobDetailScreen

    path = demo_project / "orchestrations" / f"{ORCH}.toml"
    path.write_text(path.read_text().replace("[notifications]", '[notifications]\nsuccess = ["boss@example.com"]', 1))
    with SmtpServer() as server:
        set_smtp(demo_project, server.port)
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            job_id = await app.run_orchestration(ORCH)
            await app.push_screen(JobDetailScreen(job_id))
            await pilot.pause()
            await wait_until(pilot, lambda: "sent" in text_of(app.screen, "#job-mail"), message="the e-mail line")
            assert app.engine.get_job(job_id).status is JobStatus.SUCCESS
            assert text_of(app.screen, "#job-mail") == "E-mail (success) to you@example.com: sent"
            [mail] = await asyncio.to_thread(server.wait_for, 1)
    assert mail.recipients == ["you@example.com"]  # [user] email of the demo, not boss@example.com


async def test_smtp_settings_warn_about_a_password_sent_unencrypted(make_app, demo_project):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_smtp_settings(app, pilot)
        assert text_of(screen, "#warning") == ""
        screen.query_one("#host", Input).value = "smtp.example.com"
        screen.query_one("#username", Input).value = "kbc"
        screen.query_one("#password", Input).focus()
        await pilot.press(*"hunter2")
        await pilot.pause()
        assert text_of(screen, "#warning") == (
            'Warning: the password is sent unencrypted (security = "none"); use "starttls" or "tls"')
        screen.query_one("#security", Select).value = "starttls"
        await pilot.pause()
        assert text_of(screen, "#warning") == ""
        screen.query_one("#timeout", Input).value = "1e999"  # the number field accepts it; it is infinite
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SmtpSettingsScreen)
        assert text_of(screen, "#timeout-problem") == "Timeout: a number of seconds, at least 1"


async def test_an_address_typed_but_not_added_is_added_on_save_and_said(make_app, demo_project):
    """Issue 12: ctrl+s with an address still in the field used to drop it and say "Saved"."""
    path = demo_project / "orchestrations" / f"{ORCH}.toml"
    before = tomllib.loads(path.read_text())["notifications"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot)
        await pilot.press(*"late@example.com", "ctrl+s")  # no enter
        await pilot.pause()
        assert isinstance(app.screen, OrchestrationScreen)
        said = [str(n.message) for n in app._notifications]
        assert any("Saved" in m and "late@example.com (on error) added" in m for m in said), said
    saved = tomllib.loads(path.read_text())["notifications"]
    assert saved["error"] == before["error"] + ["late@example.com"]


async def test_an_invalid_typed_address_refuses_the_save_with_the_error_next_to_it(make_app, demo_project):
    path = demo_project / "orchestrations" / f"{ORCH}.toml"
    original = path.read_bytes()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot)
        await pilot.press("tab", "tab")  # the error list, then the warning field
        assert editor.focused is editor.query_one("#add-warning", Input)
        await pilot.press(*"ops.example.com", "ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, NotificationsEditor)  # refused
        assert "invalid e-mail address 'ops.example.com'" in text_of(editor, "#problem-warning")
        assert editor.query_one("#problem-warning", Static).display
        assert editor.query_one("#add-warning", Input).value == "ops.example.com"  # kept, to be corrected
        assert any("Cannot save" in str(n.message) for n in app._notifications)
        assert path.read_bytes() == original
        await pilot.press("escape")  # leaving asks about the typed address
        await pilot.pause()
        assert isinstance(app.screen, UnsavedModal)
        assert "ops.example.com (on warning)" in str(app.screen.query_one(".question", Label).render())
        await pilot.press("k")
        assert app.screen is editor
        await pilot.press("ctrl+a", "ctrl+k", *"ops@example.com", "escape")
        await pilot.pause()
        assert isinstance(app.screen, UnsavedModal)
        await pilot.press("s")  # save from the question: the typed address goes in
        await pilot.pause()
        assert isinstance(app.screen, OrchestrationScreen)
    assert "ops@example.com" in tomllib.loads(path.read_text())["notifications"]["warning"]


async def test_escape_with_only_a_typed_address_asks_and_discard_keeps_the_file(make_app, demo_project):
    path = demo_project / "orchestrations" / f"{ORCH}.toml"
    original = path.read_bytes()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_editor(app, pilot)
        await pilot.press(*"late@example.com", "escape")
        await pilot.pause()
        assert isinstance(app.screen, UnsavedModal)  # it used to leave without a word
        # the keys are shown on the buttons (they used to be eaten as markup: "Keep editing ")
        assert [str(b.label) for b in app.screen.query(Button)] == ["Keep editing [k]", "Discard [d]", "Save [s]"]
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, OrchestrationScreen)
    assert path.read_bytes() == original


async def test_clearing_your_e_mail_asks_first_and_keeps_the_other_settings(make_app, demo_project):
    """Issue 12: emptying "Your e-mail" and saving used to delete [user] without a word."""
    from kbc_tui.ui.widgets.dialogs import ConfirmModal

    path = demo_project / "kbc.toml"
    before = path.read_bytes()
    assert tomllib.loads(before.decode())["user"]["email"] == "you@example.com"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_smtp_settings(app, pilot)
        await pilot.press(*"mail.example.com")  # the host (focused first)
        screen.query_one("#user-email", Input).focus()
        await pilot.press("ctrl+a", "ctrl+k", "ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        question = str(app.screen.query_one(".question", Label).render())
        assert "removes you@example.com ([user] email)" in question and "manual runs will e-mail nobody" in question
        assert path.read_bytes() == before  # nothing saved yet
        assert [str(b.label) for b in app.screen.query(Button)] == ["Save without it [y]", "Keep editing [n]"]
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is screen and screen.query_one("#user-email", Input).has_focus
        assert screen.query_one("#host", Input).value == "mail.example.com"  # the form is as it was
        assert path.read_bytes() == before
        await pilot.press("ctrl+s", "y")
        await pilot.pause()
        assert not isinstance(app.screen, (SmtpSettingsScreen, ConfirmModal))
        assert any("without your e-mail" in str(n.message) for n in app._notifications)
    data = tomllib.loads(path.read_text())
    assert "email" not in data.get("user", {})
    assert data["smtp"]["host"] == "mail.example.com"  # the rest is saved
