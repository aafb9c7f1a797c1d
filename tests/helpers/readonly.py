"""Make a folder really read-only for a test: ``chmod`` for a normal user; for root (who ignores file modes),
the immutable attribute (``chattr +i``), which even root cannot write through."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest


@contextlib.contextmanager
def read_only(path: Path):
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")]}
        for p in modes:
            p.chmod(modes[p] & ~0o222)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    if not shutil.which("chattr"):
        pytest.skip("root ignores file modes, and chattr (to make a folder immutable) is not installed")
    done = subprocess.run(["chattr", "-R", "+i", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        subprocess.run(["chattr", "-R", "-i", str(path)], capture_output=True)
        pytest.skip(f"this file system cannot make {path} immutable: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-R", "-i", str(path)], check=True)
