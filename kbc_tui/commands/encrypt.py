"""``kbc-tui encrypt``: encrypt every plain-text ``#`` secret in the project's files, in place.

Writes each changed file atomically, changing only the lines of the encrypted values; prints which keys it encrypted, never their values.
The key is ``KBC_SECRET_KEY`` or ``<project>/.kbc/secret.key`` (created if missing, unless values encrypted
with a missing key exist: then nothing is written and the message says how to recover).
"""

from __future__ import annotations

from kbc_tui.errors import ConfigError
from kbc_tui.store.project import resolve_project_dir
from kbc_tui.store.secrets import Secrets, is_safe_value, secret_files, walk_secrets
from kbc_tui.store.toml_io import edit_toml, read_toml, write_bytes_atomic


def run(args) -> int:
    root = resolve_project_dir(args.project)
    secrets = Secrets(root / ".kbc")
    files = secret_files(root)
    changed = failed = 0
    for path in files:
        if not path.exists():
            continue
        try:
            data, raw = read_toml(path)
        except ConfigError as exc:
            for problem in exc.problems:
                print(f"skipped: {problem}")
            failed += 1
            continue
        plain = [key for key, value in walk_secrets(data) if isinstance(value, str) and not is_safe_value(value)]
        if not plain:
            continue
        encrypted, _ = secrets.encrypt_tree(data)
        write_bytes_atomic(path, edit_toml(raw, encrypted, lambda parsed: parsed))  # comments and layout stay
        changed += 1
        for key in plain:
            print(f"{path.relative_to(root)}: {key}: encrypted")
    if not changed:
        print("No plain-text secrets found.")
    return 1 if failed else 0
