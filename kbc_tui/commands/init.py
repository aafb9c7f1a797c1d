"""``kbc-tui init DIR``: scaffold a new, empty, valid project."""

from __future__ import annotations

from pathlib import Path

from kbc_tui.errors import KbcError
from kbc_tui.model.project import ProjectSettings
from kbc_tui.store.project import SETTINGS_FILE
from kbc_tui.store.toml_io import write_bytes_atomic, write_toml_atomic

GITIGNORE = "# kbc-tui state: storage, job history, secret key\n.kbc/\n# outputs of the writers\nout/\n"


def run(args) -> int:
    root = Path(args.dir).expanduser().resolve()
    if (root / SETTINGS_FILE).exists():
        raise KbcError(f"{root / SETTINGS_FILE} already exists: {root} is a project already")
    root.mkdir(parents=True, exist_ok=True)
    (root / "components").mkdir(exist_ok=True)
    (root / "orchestrations").mkdir(exist_ok=True)
    write_toml_atomic(root / SETTINGS_FILE, ProjectSettings(name=args.name or root.name).to_toml())
    if not (root / ".gitignore").exists():
        write_bytes_atomic(root / ".gitignore", GITIGNORE.encode())
    print(f"Created project {root}")
    print(f"  open it:     kbc-tui --project {root}")
    print(f"  check it:    kbc-tui validate --project {root}")
    return 0
