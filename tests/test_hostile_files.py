"""Hand-written files in unusual but valid styles, and commands given in unusual but valid ways: saves keep
what the user wrote and mean exactly what the model says; commands act on the project they were told."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kbc_tui.store import Project


def changes(before: str, after: str) -> list[str]:
    """The -/+ lines of the unified diff (no headers, no context)."""
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def kbc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("KBC_PROJECT", "KBC_SECRET_KEY")}
    return subprocess.run([sys.executable, "-m", "kbc_tui", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env)


def test_project_given_before_the_command_is_the_one_used(demo_project, tmp_path):
    """``kbc-tui --project DIR encrypt`` (the option before the command, as ``--help`` shows it) acts on DIR,
    not on ./configs of the current folder."""
    other = tmp_path / "elsewhere"
    (other / "configs").mkdir(parents=True)
    (other / "configs" / "kbc.toml").write_text('name = "decoy"\n')
    secret = demo_project / "components" / "db-extractor" / "shop.toml"
    secret.write_text(secret.read_text().replace('[parameters]\n', '[parameters]\n"#password" = "hunter2"\n'))
    out = kbc("--project", str(demo_project), "encrypt", cwd=other)
    assert out.returncode == 0, out.stderr
    assert "parameters.#password: encrypted" in out.stdout
    assert "hunter2" not in secret.read_text()
    out = kbc("--project", str(demo_project), "validate", cwd=other)
    assert "decoy" not in out.stdout + out.stderr
    assert out.returncode == 0, out.stdout + out.stderr


ORCHESTRATION = '''\
# top comment
name = "Sales"  # name comment

[[phases]]
name = "Extract"

[[phases.tasks]]
component = "db-extractor"  # the shop
config = "shop"

[[phases]]
name = "Load"

[[phases.tasks]]
component = "db-writer"
config = "warehouse"  # flaky

[schedule]
cron = "0 6 * * *"  # six o'clock
'''


def save_orchestration(root: Path, content: bytes, change) -> bytes:
    """Write ``content`` as orchestrations/x.toml, change it through the store, return the bytes saved; the
    saved file must load without problems as exactly the changed model."""
    path = root / "orchestrations" / "x.toml"
    path.write_bytes(content)
    project = Project.load(root)
    assert not project.problems_for(path), project.problems_for(path)
    orch = project.orchestrations["x"]
    change(orch)
    assert project.save_orchestration(orch)
    again = Project.load(root)
    assert not again.problems_for(path), again.problems_for(path)
    assert again.orchestrations["x"].to_toml() == orch.to_toml()
    return path.read_bytes()


def disable_first_task(orch):
    orch.phases[0].tasks[0].active = False


def test_a_file_with_a_byte_order_mark_keeps_it_and_its_comments(demo_project):
    """Windows editors write a BOM; the file loads (rtoml accepts it), so the save edits it in place too
    (was: rewritten canonically, every comment and the BOM lost)."""
    saved = save_orchestration(demo_project, b"\xef\xbb\xbf" + ORCHESTRATION.encode(), disable_first_task)
    assert saved.startswith(b"\xef\xbb\xbf")
    assert changes(ORCHESTRATION, saved[3:].decode()) == ["+active = false"]


def test_a_crlf_file_stays_crlf(demo_project):
    """A file with Windows line endings (git autocrlf) gets its new lines with CRLF too (was: LF, a file of
    mixed line endings)."""
    crlf = ORCHESTRATION.replace("\n", "\r\n").encode()
    saved = save_orchestration(demo_project, crlf, disable_first_task)
    assert saved.count(b"\n") == saved.count(b"\r\n")
    assert changes(ORCHESTRATION, saved.decode().replace("\r\n", "\n")) == ["+active = false"]


def test_a_crlf_file_with_a_multi_line_string_keeps_its_comments(demo_project):
    """A CRLF file with a multi-line SQL script: the script's line breaks read as CRLF (rtoml keeps them), so
    the check that the edited file says the same reads it the same way (was: tomllib read LF, the check
    failed and the file was rewritten canonically: its comments lost)."""
    path = demo_project / "components" / "sql-transformation" / "crlf.toml"
    text = ('# owner: finance\r\nname = "Report"  # shown in lists\r\n\r\n[parameters]\r\n'
            'script = """\r\nselect 1;\r\nselect 2;\r\n"""  # two statements\r\n')
    path.write_bytes(text.encode())
    project = Project.load(demo_project)
    assert not project.problems_for(path), project.problems_for(path)
    cfg = project.components["sql-transformation/crlf"]
    cfg.description = "Monthly numbers"
    assert project.save_component(cfg)
    saved = path.read_bytes()
    assert changes(text.replace("\r\n", "\n"), saved.decode().replace("\r\n", "\n")) == [
        '+description = "Monthly numbers"']
    assert saved.count(b"\n") == saved.count(b"\r\n")
    again = Project.load(demo_project).components["sql-transformation/crlf"]
    assert again.to_toml() == cfg.to_toml()


def test_a_task_edited_in_an_unnamed_phase_keeps_its_comments_and_key_order(demo_project):
    """A phase without a name whose only task changes is the same phase, edited in place (was: it shared no
    key with its new self, so it was replaced by a canonical one: the task's comment and key order lost)."""
    text = ('name = "Sales"\n\n[[phases]]\n\n[[phases.tasks]]\nconfig = "shop"  # the shop\n'
            'component = "db-extractor"\n\n[[phases]]\nname = "Load"\n\n[[phases.tasks]]\n'
            'component = "db-writer"\nconfig = "warehouse"\n')
    saved = save_orchestration(demo_project, text.encode(), disable_first_task)
    assert changes(text, saved.decode()) == ["+active = false"]


def test_encrypt_in_a_file_with_nan_changes_only_the_secret(demo_project):
    """``x = nan`` is valid TOML; NaN never equals itself, so the check that the edited file says the same
    failed and encrypt rewrote the whole file canonically (comments lost). Now only the secret's line."""
    path = demo_project / "components" / "db-extractor" / "shop.toml"
    before = path.read_text().replace("[parameters]\n", '[parameters]\n# keep me\nratio = nan  # unknown yet\n'
                                      '"#password" = "hunter2"  # rotate yearly\n')
    path.write_text(before)
    out = kbc("encrypt", "--project", str(demo_project), cwd=demo_project)
    assert out.returncode == 0, out.stderr
    diff = changes(before, path.read_text())
    assert len(diff) == 2 and diff[0] == '-"#password" = "hunter2"  # rotate yearly', diff
    assert diff[1].startswith('+"#password" = "KBC::Encrypted::') and diff[1].endswith('"  # rotate yearly')


NAME_WITH_TAB = "Sales\tQ1"  # pasted from a spreadsheet: a text field keeps the tab


def test_a_name_the_loader_would_refuse_is_not_saved(demo_project):
    """A control character in a name (a tab pasted from a spreadsheet) made the store write a file that the
    next load calls broken ("fix it on disk first"): a rename broke the orchestration it renamed. Now the
    save is refused in words and the file, and the model, stay as they were."""
    from kbc_tui.errors import KbcError

    project = Project.load(demo_project)
    source = demo_project / "orchestrations" / "sales-to-tableau.toml"
    before = source.read_bytes()
    with pytest.raises(KbcError, match=r"name: contains the control character \\t"):
        project.duplicate_orchestration("sales-to-tableau", "sales-q1", NAME_WITH_TAB)
    assert not (demo_project / "orchestrations" / "sales-q1.toml").exists()
    with pytest.raises(KbcError, match=r"name: contains the control character \\t"):
        project.create_orchestration("sales-q1", NAME_WITH_TAB)
    assert not (demo_project / "orchestrations" / "sales-q1.toml").exists()
    with pytest.raises(KbcError, match=r"name: contains the control character \\t"):
        project.rename_orchestration("sales-to-tableau", name=NAME_WITH_TAB)
    assert project.orchestrations["sales-to-tableau"].name == "Sales to Tableau"
    orch = project.orchestrations["sales-to-tableau"]
    orch.phases[0].name = "Extract\x1b[2J"
    with pytest.raises(KbcError, match=r"phases\[0\]\.name: contains the control character \\x1b"):
        project.save_orchestration(orch)
    assert source.read_bytes() == before
    again = Project.load(demo_project)
    assert not again.problems, again.problems
    assert set(again.orchestrations) == {"sales-to-tableau", "sales-to-gooddata"}


def test_a_moved_entry_of_a_multi_line_array_keeps_its_comment(demo_project):
    """Tasks written as inline tables in a multi-line array, a comment after each: swapping them moves each
    comment with its task (was: the task moved down the list kept its comment, the one moved up lost it)."""
    text = ('name = "Sales"\n\n[[phases]]\nname = "Extract"\ntasks = [\n'
            '  { component = "db-extractor", config = "shop" },  # nightly dump\n'
            '  { component = "sheet-extractor", config = "sales-targets" },  # edited by finance\n]\n')

    def swap(orch):
        orch.phases[0].tasks.reverse()

    saved = save_orchestration(demo_project, text.encode(), swap).decode()
    assert ('  { component = "sheet-extractor", config = "sales-targets" },  # edited by finance\n'
            '  { component = "db-extractor", config = "shop" },  # nightly dump\n]\n') in saved
    assert changes(text, saved) == ['+  { component = "sheet-extractor", config = "sales-targets" },  # edited by finance',
                                    '-  { component = "sheet-extractor", config = "sales-targets" },  # edited by finance']


def test_settings_and_duplicate_refuse_when_the_file_changed_on_disk(demo_project):
    """A git pull (or another editor) changed kbc.toml / an orchestration after the app loaded it: saving
    the settings, or duplicating the orchestration, refuses in words and leaves the other change alone."""
    from kbc_tui.errors import ConflictError

    project = Project.load(demo_project)
    settings_path = demo_project / "kbc.toml"
    theirs = settings_path.read_text() + "# pulled from git\n"
    settings_path.write_text(theirs)
    project.settings.user.email = "me@example.com"
    with pytest.raises(ConflictError, match="kbc.toml changed on disk since it was loaded"):
        project.save_settings(project.settings)
    assert settings_path.read_text() == theirs
    source = demo_project / "orchestrations" / "sales-to-tableau.toml"
    source.write_text(source.read_text().replace('name = "Sales to Tableau"', 'name = "Renamed upstream"'))
    with pytest.raises(ConflictError, match="changed on disk since it was loaded; reload to see the change "
                                            r"\(nothing was copied\)"):
        project.duplicate_orchestration("sales-to-tableau", "copy", "Copy")
    assert not (demo_project / "orchestrations" / "copy.toml").exists()


def test_saving_a_symlinked_file_writes_through_the_link(demo_project, tmp_path):
    """orchestrations/x.toml is a symlink to a file shared between projects: the save changes the shared file
    and the link stays a link (was: the atomic replace put a regular file in the link's place, silently
    forking the copy)."""
    shared = tmp_path / "shared" / "x.toml"
    shared.parent.mkdir()
    shared.write_text(ORCHESTRATION)
    link = demo_project / "orchestrations" / "x.toml"
    link.symlink_to(shared)
    project = Project.load(demo_project)
    orch = project.orchestrations["x"]
    disable_first_task(orch)
    assert project.save_orchestration(orch)
    assert link.is_symlink() and link.resolve() == shared
    assert changes(ORCHESTRATION, shared.read_text()) == ["+active = false"]
    assert not list(shared.parent.glob(".*.tmp")) and not list(link.parent.glob(".*.tmp"))


def test_a_file_without_a_final_newline_gets_a_phase_added_in_place(demo_project):
    """The last line has no line break (some editors, `echo -n`): a phase added at the end went straight after
    it (``config = "warehouse"[[phases]]``), invalid TOML, so the file was rewritten canonically, comments
    lost. Now the new lines follow a line break and the file still ends without one."""
    text = ORCHESTRATION.removesuffix("\n").replace('[schedule]\ncron = "0 6 * * *"  # six o\'clock', "")
    text = text.rstrip("\n") + "  # last line"

    def add_phase(orch):
        from kbc_tui.model import Phase, Task

        orch.phases.append(Phase("Publish", [Task("tableau-writer", "sales-dashboard")]))

    saved = save_orchestration(demo_project, text.encode(), add_phase).decode()
    assert changes(text, saved) == ['+[[phases]]', '+name = "Publish"', '+', '+[[phases.tasks]]',
                                    '+component = "tableau-writer"', '+config = "sales-dashboard"']
    assert not saved.endswith("\n")


def test_a_crlf_file_without_a_final_newline_can_lose_its_last_table(demo_project):
    """CRLF and no final line break, and the edit removes the last table: the file must not end in a lone CR
    (was: invalid TOML, so a canonical rewrite)."""
    text = ORCHESTRATION.replace("\n", "\r\n").removesuffix("\r\n")

    def unschedule(orch):
        orch.schedule = None

    saved = save_orchestration(demo_project, text.encode(), unschedule).decode()
    assert "# top comment" in saved and not saved.endswith("\r")
    assert changes(text.replace("\r\n", "\n"), saved.replace("\r\n", "\n")) == [
        "-", "-[schedule]", "-cron = \"0 6 * * *\"  # six o'clock"]


def test_duplicate_or_rename_of_a_vanished_orchestration_says_so(demo_project):
    from kbc_tui.errors import KbcError

    project = Project.load(demo_project)
    del project.orchestrations["sales-to-gooddata"]  # what a reload after a git checkout leaves
    with pytest.raises(KbcError, match="'sales-to-gooddata' no longer exists"):
        project.duplicate_orchestration("sales-to-gooddata", "copy", "Copy")
    with pytest.raises(KbcError, match="'sales-to-gooddata' no longer exists"):
        project.rename_orchestration("sales-to-gooddata", name="Other")
