"""What the app draws holds no control character and no markup from files or servers (issue 11, item 7).

A configuration named ``ESC ] 0 ; pwned BEL`` retitled the terminal when the task picker showed it. Each
test drives the real app with keys and checks the screen it rendered (the screenshot holds exactly the
text that would go to the terminal): the escape is shown as ``\\x1b``, never sent, and a name like
``[/]`` or ``[b]x[/b]`` is text, not markup.
"""

import json

from textual.command import CommandList
from textual.widgets import DataTable, SelectionList

from kbc_tui.store.toml_io import dumps_toml
from kbc_tui.ui.screens.component_picker import ComponentPicker
from kbc_tui.ui.screens.job_detail import JobDetailScreen
from kbc_tui.ui.widgets.log_lines import LogLines, format_line
from kbc_tui.ui.screens.smtp_settings import SmtpSettingsScreen
from kbc_tui.ui.widgets.dialogs import ConfirmModal
from tests.helpers.projects import sql_config
from tests.ui.conftest import SIZE, wait_until

TITLE = "\x1b]0;pwned\x07"  # OSC 0: sets the terminal's title
SHOWN = "\\x1b]0;pwned\\x07"


def screen_text(app) -> str:
    """What the app would send to the terminal for the current screen (as an SVG: text, escaped for XML)."""
    svg = app.export_screenshot()
    for char in ("\x1b", "\x07", "\x9b"):
        assert char not in svg, f"{char!r} reached the terminal"
    return svg.replace("&#160;", " ")


def toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # JSON's string escapes (\u001b) are TOML's


def rename_config(demo_project, name: str) -> None:
    path = demo_project / "components" / "sheet-extractor" / "sales-targets.toml"
    path.write_text(path.read_text().replace('name = "Sales targets sheet"', f"name = {toml_string(name)}"))


async def test_the_task_picker_shows_an_escape_in_a_name_and_never_sends_it(make_app, demo_project):
    rename_config(demo_project, f"{TITLE}Sales [red]targets[/]")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "t", "a")  # open Sales to GoodData, edit its tasks, add
        assert isinstance(app.screen, ComponentPicker)
        picker = app.screen.query_one(SelectionList)
        prompts = [str(picker.get_option_at_index(i).prompt) for i in range(picker.option_count)]
        assert f"  {SHOWN}Sales [red]targets[/]  (already a task)  sheet-extractor/sales-targets" in prompts
        assert f"{SHOWN}Sales [red]targets[/]" in screen_text(app)


async def test_names_that_look_like_markup_are_text_everywhere(make_app, demo_project):
    (demo_project / "orchestrations" / "weird.toml").write_bytes(dumps_toml({"name": f"[/]{TITLE}[b]Weird[/b]"}))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        await pilot.press("slash", *"weird", "enter")  # the filter leaves only it
        assert table.row_count == 1
        home = screen_text(app)
        assert f"[/]{SHOWN}[b]Weird[/b]" in home and "weird.toml:1: name: contains the control character" in home
        await pilot.press("ctrl+p", *"weird")  # the command palette lists it as text (markup '[/]' would crash it)
        commands = app.screen.query_one(CommandList)
        await wait_until(pilot, lambda: commands.option_count >= 2, message="the palette's hits")
        hits = [str(getattr(p, "plain", p)) for p in (commands.get_option_at_index(i).prompt
                                                      for i in range(commands.option_count))]
        assert f"orchestration: open [/]{SHOWN}[b]Weird[/b]" in "\n".join(hits)
        screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("d")  # the question quotes the name; the notification too
        assert isinstance(app.screen, ConfirmModal)
        assert f"Delete “[/]{SHOWN}[b]Weird[/b]”" in screen_text(app)
        await pilot.press("y")
        await pilot.pause()
        [note] = [n for n in app._notifications if "Deleted" in n.message]
        assert note.message == f"Deleted [/]{SHOWN}[b]Weird[/b]" and not note.markup
        assert not (demo_project / "orchestrations" / "weird.toml").exists()


async def test_a_server_message_with_escapes_is_shown_visibly_in_the_job_screen(make_app, demo_project):
    sql_config(demo_project, "evil", f'create table t as select * from "{TITLE}";', ["t"])
    (demo_project / "orchestrations" / "evil.toml").write_bytes(dumps_toml({
        "name": "Evil", "tasks": [{"component": "sql-transformation", "config": "evil"}]}))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        job_id = await app.run_orchestration("evil")
        await wait_until(pilot, lambda: app.engine.get_job(job_id).status.finished, message="the job to end")
        app.push_screen(JobDetailScreen(job_id))
        await pilot.pause()
        log = app.screen.query_one(LogLines)
        assert any(f"Table with name {SHOWN} does not exist" in format_line(log.source.line(n))
                   for n in range(log.line_count))
        shown = screen_text(app)
        assert f"Table with name {SHOWN} does not" in shown  # the task table's message, the log


async def test_text_no_screen_escapes_itself_still_never_reaches_the_terminal(make_app, demo_project):
    """The last guard: a value shown by a plain Textual widget (the SMTP host in its input) loses its control
    characters on the way out."""
    settings = demo_project / "kbc.toml"
    settings.write_text(settings.read_text() + f"\n[smtp]\nhost = {toml_string(f'smtp{TITLE}.example.com')}\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("S")
        assert isinstance(app.screen, SmtpSettingsScreen)
        assert "smtp]0;pwned.example.com" in screen_text(app)
