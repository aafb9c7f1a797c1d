"""Scratch files of the process that runs jobs, kept so that a killed process leaves nothing behind for long.

Every process writes its scratch files under ``.kbc/tmp/<pid>/`` (COPY exports, Parquet files for Hyper,
downloads) and records there, in ``partials``, the half-written output files it creates next to their
targets (``.extract.hyper.<pid>.tmp`` in the user's output folder, renamed over the target when complete).
When a runner takes over a project it removes what processes that no longer exist left: their folders,
their partial outputs, and files older versions left directly in ``.kbc/tmp`` or ``.kbc/tmp*``. A live
process's scratch is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from kbc_tui.store.private import FILE_MODE, private_dir

TMP = "tmp"
PARTIALS = "partials"
_PARTIAL_NAME = re.compile(r"^\..+\.(\d+)\.tmp$")


def process_scratch(state_dir: Path) -> Path:
    """This process's scratch folder (created, owner-only)."""
    return private_dir(state_dir / TMP / str(os.getpid()))


def partial_path(state_dir: Path, target: Path) -> Path:
    """Where to write ``target`` before renaming it into place; recorded, so that the next runner removes it if
    this process dies first (same folder as the target: the rename is atomic)."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(process_scratch(state_dir) / PARTIALS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    with os.fdopen(fd, "a", encoding="utf-8") as ledger:
        ledger.write(f"{partial}\n")
    return partial


def alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def clean_dead(state_dir: Path) -> tuple[int, int]:
    """Remove the scratch of processes that no longer exist; returns (entries removed, bytes freed)."""
    removed = freed = 0
    tmp = state_dir / TMP
    if tmp.is_dir():
        for entry in tmp.iterdir():
            if entry.name.isdigit() and alive(int(entry.name)):
                continue
            if entry.name.isdigit():
                n, size = _remove_partials(entry / PARTIALS, int(entry.name))
                removed, freed = removed + n, freed + size
            removed, freed = removed + 1, freed + _remove(entry)
    for entry in state_dir.glob("tmp?*"):  # TemporaryDirectory folders of older versions, right in .kbc
        if entry.is_dir() and entry.name != TMP:
            removed, freed = removed + 1, freed + _remove(entry)
    return removed, freed


def _remove_partials(ledger: Path, pid: int) -> tuple[int, int]:
    removed = freed = 0
    try:
        lines = ledger.read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0, 0
    for line in dict.fromkeys(lines):
        path = Path(line)
        match = _PARTIAL_NAME.match(path.name)
        if match is None or int(match.group(1)) != pid:
            continue  # only ever the partial files this process named
        try:
            size = path.stat().st_size
            path.unlink()
        except OSError:
            continue
        removed, freed = removed + 1, freed + size
    return removed, freed


def _remove(path: Path) -> int:
    size = _size(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except OSError:
            return 0
    return size


def _size(path: Path) -> int:
    try:
        if path.is_dir() and not path.is_symlink():
            return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
        return path.stat().st_size
    except OSError:
        return 0
