"""``kbc-tui test-email ADDRESS``: send a test message with the project's ``[smtp]`` settings; say why not."""

from __future__ import annotations

import asyncio


def run(args) -> int:
    from kbc_tui.engine.mail import send_test_email
    from kbc_tui.store import Project, resolve_project_dir

    project = Project.load(resolve_project_dir(args.project))
    settings = project.settings
    to = args.address or settings.user.effective_email
    if not to:
        print("kbc-tui: give an address, or set [user] email in kbc.toml / KBC_USER_EMAIL", flush=True)
        return 2
    smtp = settings.smtp
    print(f"Sending a test e-mail to {to} via {smtp.host or '(no server)'}:{smtp.port} ({smtp.security})...",
          flush=True)
    asyncio.run(send_test_email(settings, project.secrets, to))  # MailError -> "kbc-tui: <why>", exit 1
    print(f"Sent. Check the inbox of {to}.")
    return 0
