"""``kbc-tui`` entry point: the TUI (no command) and the headless commands.

Each command lives in ``kbc_tui/commands/<name>.py`` as ``run(args) -> int`` (the exit code),
imported only when used so that ``kbc-tui --version`` or ``validate`` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from kbc_tui import __version__
from kbc_tui.errors import KbcError


def _project(p: argparse.ArgumentParser, top: bool = False) -> None:
    # a command's own --project must not reset one given before the command (kbc-tui --project DIR encrypt)
    p.add_argument("--project", "-p", metavar="DIR", default=None if top else argparse.SUPPRESS,
                   help="project folder (default: $KBC_PROJECT, else ./configs)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kbc-tui",
        description="Keboola-style orchestrations in your terminal. With no command, opens the TUI.")
    parser.add_argument("--version", action="version", version=f"kbc-tui {__version__}")
    _project(parser, top=True)
    parser.add_argument("--no-run", action="store_true",
                        help="the app only queues and watches jobs; it runs none (a worker or the scheduler does)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("validate", help="check every project file; print problems as path:line: key: message")
    _project(p)

    p = sub.add_parser("init", help="create a project to start from: a commented kbc.toml and an example "
                                    "orchestration that runs at once",
                       description="Create a project to start from in DIR: a commented kbc.toml (your [user] "
                                   "email from git config user.email, asked when there is none and this is a "
                                   "terminal), an example SQL transformation and the orchestration 'hello' that "
                                   "runs it (kbc-tui run hello). Files already in DIR are kept.")
    p.add_argument("dir", metavar="DIR", help="the project folder (created if missing; must not hold a kbc.toml)")
    p.add_argument("--name", help="project name (default: the folder name)")

    p = sub.add_parser("encrypt", help="encrypt plain-text '#' secrets in the project's files, in place")
    _project(p)

    p = sub.add_parser("run", help="run an orchestration now; exit code 0 success, 3 warning, 1 otherwise")
    _project(p)
    p.add_argument("orchestration", metavar="ORCH", help="the orchestration's id: its file name in orchestrations/, "
                   "without .toml")
    p.add_argument("--no-wait", action="store_true", help="enqueue and exit; print the job id")

    p = sub.add_parser("jobs", help="list jobs, latest first")
    _project(p)
    p.add_argument("--orchestration", "-o", metavar="ID", help="only this orchestration's jobs (its id)")
    p.add_argument("--limit", "-n", type=int, default=20, metavar="N", help="at most N jobs (default: 20)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("job", help="one job: its tasks and log")
    _project(p)
    p.add_argument("job_id", type=int, metavar="ID", help="the job's number (kbc-tui jobs lists them)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until the job ends")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")

    p = sub.add_parser("cancel", help="cancel a waiting or running job")
    _project(p)
    p.add_argument("job_id", type=int, metavar="ID", help="the job's number (kbc-tui jobs lists them)")

    p = sub.add_parser("scheduler", help="daemon: run schedules and queued jobs (foreground, logs to stdout)")
    _project(p)
    p.add_argument("--grace", type=float, default=30, metavar="SECONDS",
                   help="on SIGTERM/SIGINT, how long running jobs may finish before they are cancelled (30)")
    p.add_argument("--name", metavar="NAME", help="with [state] url: this process's worker name in the jobs it "
                   "runs (default: host:pid)")
    p.add_argument("--max-jobs", type=int, default=4, metavar="N", help="run at most N jobs at once (default: 4)")

    p = sub.add_parser("worker", help="daemon: run queued jobs only, no schedules (foreground, logs to stdout); "
                                      "with [state] url, any number on any servers share the queue")
    _project(p)
    p.add_argument("--name", metavar="NAME", help="this worker's name in the jobs it runs (default: host:pid); "
                   "two live workers cannot share one")
    p.add_argument("--max-jobs", type=int, default=4, metavar="N", help="run at most N jobs at once (default: 4)")
    p.add_argument("--grace", type=float, default=30, metavar="SECONDS",
                   help="on SIGTERM/SIGINT, how long running jobs may finish before they are cancelled (30)")

    p = sub.add_parser("test-email", help="send a test e-mail with the [smtp] settings of kbc.toml")
    _project(p)
    p.add_argument("address", nargs="?", metavar="ADDRESS", help="recipient (default: [user] email)")

    p = sub.add_parser("schedule", help="print an orchestration's next fire times (ISO-8601)")
    _project(p)
    p.add_argument("orchestration", metavar="ORCH", help="the orchestration's id: its file name in orchestrations/, "
                   "without .toml")
    p.add_argument("--count", "-n", type=int, default=5, metavar="N", help="how many fire times (default: 5)")
    p.add_argument("--after", metavar="ISO-TIME", help="start from this time instead of now")

    p = sub.add_parser("state", help="the job state: copy the SQLite history into PostgreSQL")
    state_sub = p.add_subparsers(dest="state_command", metavar="ACTION", required=True)
    c = state_sub.add_parser("copy", help="copy the project's SQLite job history (.kbc/jobs.sqlite) into an empty "
                                          "PostgreSQL job state, keeping job ids",
                             description="Copy the project's SQLite job history (.kbc/jobs.sqlite: jobs, task runs, "
                                         "logs, e-mail outbox, component state, schedule records) into an empty "
                                         "PostgreSQL job state, keeping job ids; then set [state] url in kbc.toml "
                                         "to use it. Stop the project's scheduler and TUI first.")
    _project(c)
    c.add_argument("--to", required=True, metavar="URL",
                   help="the PostgreSQL state: postgresql+psycopg://user@host:5432/database (no password in it)")
    c.add_argument("--password-env", metavar="VAR",
                   help="the environment variable holding its password (default: the project's [state] #password)")
    return parser


COMMANDS = {
    "validate": "kbc_tui.commands.validate",
    "init": "kbc_tui.commands.init",
    "encrypt": "kbc_tui.commands.encrypt",
    "run": "kbc_tui.commands.run",
    "jobs": "kbc_tui.commands.jobs",
    "job": "kbc_tui.commands.job",
    "cancel": "kbc_tui.commands.cancel",
    "schedule": "kbc_tui.commands.schedule",
    "test-email": "kbc_tui.commands.test_email",
    "scheduler": "kbc_tui.commands.scheduler",
    "worker": "kbc_tui.commands.worker",
    "state": "kbc_tui.commands.state",
    None: "kbc_tui.commands.tui",
}


class PrintableStream:
    """stdout / stderr of a headless command: control characters are shown as escapes (``\\x1b``), so
    nothing a command prints — a name, a log line, a server's error message — can drive the terminal."""

    def __init__(self, stream) -> None:
        from kbc_tui.model.text import printable

        self._stream, self._printable = stream, printable

    def write(self, text: str) -> int:
        return self._stream.write(self._printable(text))

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    streams = sys.stdout, sys.stderr
    if args.command is not None:  # (the TUI draws its own screen)
        sys.stdout, sys.stderr = PrintableStream(sys.stdout), PrintableStream(sys.stderr)
    try:
        return _run(args)
    finally:
        sys.stdout, sys.stderr = streams


def _run(args: argparse.Namespace) -> int:
    if args.command is None:
        # the app's start-up allocates a lot and frees little: no collector passes until its first frame
        # (~25 ms on a large project); the app freezes what it has built then and turns the collector on
        import gc

        gc.disable()
    module = importlib.import_module(COMMANDS[args.command])
    try:
        return int(module.run(args) or 0)
    except KbcError as exc:
        print(f"kbc-tui: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `kbc-tui jobs | head`: the reader left; not an error worth a traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a file or folder kbc-tui needs: unreadable, read-only, a full disk
        from kbc_tui.errors import describe_os_error

        print(f"kbc-tui: {describe_os_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
