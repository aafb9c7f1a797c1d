"""``kbc-tui init DIR``: a new project to start from: a commented ``kbc.toml`` (your e-mail from
``git config user.email`` when there is one, asked otherwise when stdin is a terminal), an example transformation
and an orchestration that runs it. Everything it writes validates, and ``kbc-tui run hello`` works at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kbc_tui.errors import KbcError
from kbc_tui.store.project import SETTINGS_FILE
from kbc_tui.store.toml_io import write_bytes_atomic

GITIGNORE = "# kbc-tui state: storage, job history, secret key\n.kbc/\n# outputs of the writers\nout/\n"

SETTINGS = '''\
# kbc-tui project settings. Every key is optional; the commented lines show the defaults or an example.
# Reference: the README, "Config reference". Check the whole project with: kbc-tui validate
name = {name}

[user]
# who you are: written into the jobs you start by hand (KBC_USER_EMAIL overrides it)
{email_line}

# E-mail for notifications ([notifications] in an orchestration); test it in the app with S, then ctrl+t.
# [smtp]
# host = "smtp.example.com"
# port = 587
# security = "starttls"             # "none", "starttls" or "tls"
# username = "kbc@example.com"
# "#password" = "env:SMTP_PASSWORD"  # or type it in the app: it is saved encrypted
# from = "kbc@example.com"

# [jobs]
# retention = 1000                  # jobs kept per orchestration
# max_parallel_tasks = 4            # tasks of one phase running at once

# [storage]
# memory_limit = "256MB"            # DuckDB's memory; larger work spills to disk
'''

COMPONENT = '''\
# An example SQL transformation (DuckDB SQL). It needs no input, so it runs as it is;
# list storage tables under [[parameters.input]] to read what an extractor loaded.
name = "Hello"
description = "Makes a one-row table: a first transformation to copy from."

[parameters]
script = """
create table greeting as
select 'Hello from kbc-tui' as message, current_date as day;
"""

# each result table the script makes that storage should keep
[[parameters.output]]
source = "greeting"
destination = "out.c-hello.greeting"
'''

ORCHESTRATION = '''\
# An example orchestration: phases run one after another, the tasks of a phase side by side.
# Run it with: kbc-tui run hello   (or open the app: kbc-tui --project {root})
name = "Hello"
description = "Runs the example transformation."

[[phases]]
name = "Transform"

[[phases.tasks]]
component = "sql-transformation"
config = "hello"
# continue_on_failure = true   # let the next phase start even if this task fails

# Run it on a schedule (the scheduler: kbc-tui scheduler); in the app: s
# [schedule]
# cron = "0 6 * * 1-5"        # weekdays at 06:00
# timezone = "Europe/Prague"
# enabled = true

# E-mail on failure (needs [smtp] in kbc.toml); in the app: m
# [notifications]
# error = ["you@example.com"]
'''


def git_email() -> str:
    """``git config user.email``, if git is there and it names a valid address; else ''."""
    from kbc_tui.model.validate import check_email

    try:
        out = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    email = out.stdout.strip() if out.returncode == 0 else ""
    return email if email and check_email(email) is None else ""


def ask_email(ask=input, say=print) -> str:
    """Ask for the user's e-mail until it is valid (the same check as ``validate``); '' when they skip it
    (an empty answer or end of input)."""
    from kbc_tui.model.validate import check_email

    while True:
        try:
            answer = ask("Your e-mail, for [user] email in kbc.toml (jobs you start are recorded with it; "
                         "Enter to skip): ").strip()
        except EOFError:
            say()
            return ""
        if not answer:
            return ""
        problem = check_email(answer)
        if problem is None:
            return answer
        say(f"  {problem}; try again, or Enter to skip")


def _toml_string(value: str) -> str:
    import tomlkit

    return tomlkit.string(value).as_string()


def run(args) -> int:
    root = Path(args.dir).expanduser().resolve()
    if (root / SETTINGS_FILE).exists():
        raise KbcError(f"{root / SETTINGS_FILE} already exists: {root} is a project already")
    email = git_email()
    if email:
        email_line = f"email = {_toml_string(email)}  # from git config user.email"
    else:
        email = ask_email() if sys.stdin is not None and sys.stdin.isatty() else ""  # asked before anything is written
        email_line = f"email = {_toml_string(email)}" if email else '# email = "you@example.com"'
    root.mkdir(parents=True, exist_ok=True)
    (root / "components").mkdir(exist_ok=True)
    (root / "orchestrations").mkdir(exist_ok=True)
    write_bytes_atomic(root / SETTINGS_FILE, SETTINGS.format(name=_toml_string(args.name or root.name),
                                                             email_line=email_line).encode())
    examples = {root / "components" / "sql-transformation" / "hello.toml": COMPONENT,
                root / "orchestrations" / "hello.toml": ORCHESTRATION.replace("{root}", str(root))}
    for path, text in examples.items():
        if not path.exists():  # a folder with files already: theirs stay
            write_bytes_atomic(path, text.encode())
    if not (root / ".gitignore").exists():
        write_bytes_atomic(root / ".gitignore", GITIGNORE.encode())
    print(f"Created project {root}")
    if not email:
        print("  your e-mail: set [user] email in kbc.toml (no git config user.email found, none typed)")
    print(f"  open it:     kbc-tui --project {root}")
    print(f"  check it:    kbc-tui validate --project {root}")
    print(f"  run the example: kbc-tui run hello --project {root}")
    return 0
