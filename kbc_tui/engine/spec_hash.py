"""An orchestration's content hash: what a job was queued with, checked by the worker that starts it.

Workers on several servers each run jobs from their own checkout of the project's configs. A checkout that is
behind (no ``git pull`` yet) must not run an older definition silently: the job stores the hash of the
orchestration as the queueing process saw it, and a worker whose own copy hashes differently refuses the job in
words (it ends ``error``; run it again once the configs are updated).

The hash covers the orchestration file and every configuration file its tasks name, as parsed TOML (comments,
whitespace, key order and quoting do not count; any value does). A file that is missing or cannot be parsed
counts as such (the job would fail on it anyway, the same way everywhere).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from kbc_tui.errors import KbcError
from kbc_tui.model.paths import config_file, orchestration_file
from kbc_tui.store.toml_io import read_toml

#: hex digits kept (64 bits: a collision between two versions of one orchestration is not a practical worry)
LENGTH = 16


def _parsed(path: Path):
    """The file's data; a missing or broken file as a marker (never its path or error: checkouts differ there)."""
    if not path.is_file():
        return {"missing": True}
    try:
        return read_toml(path)[0]
    except (KbcError, OSError):
        return {"unreadable": True}


def spec_hash(root: Path, orch_id: str) -> str | None:
    """The hash of orchestration ``orch_id`` as this checkout has it; None when it cannot be read at all."""
    try:
        path = orchestration_file(root, orch_id)
        orch, _ = read_toml(path)
    except (KbcError, OSError):
        return None
    configs: dict[str, object] = {}
    for phase in orch.get("phases") or []:
        for task in (phase.get("tasks") or []) if isinstance(phase, dict) else []:
            if not isinstance(task, dict):
                continue
            component, config = task.get("component"), task.get("config")
            ref = f"{component}/{config}"
            if ref in configs or not isinstance(component, str) or not isinstance(config, str):
                continue
            try:
                configs[ref] = _parsed(config_file(root, component, config))
            except KbcError:  # not an id: the job says so when it starts
                configs[ref] = {"invalid": True}
    text = json.dumps({"orchestration": orch, "configs": configs}, sort_keys=True, default=str,
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:LENGTH]


def mismatch_words(orch_id: str, queued: str, here: str, worker: str) -> str:
    return (f"this worker's copy of orchestration {orch_id} differs from the one the job was queued with (queued "
            f"{queued}, here {here}): update the configs on worker {worker} (git pull) and run the job again")
