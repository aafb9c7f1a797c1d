"""A saved TOML file survives a power cut: its bytes (all written, none left in a buffer) reach the disk (fsync)
before the rename makes them the file, and the folder is fsynced after the rename so the new name is on disk too.
Checked by watching the real system calls with strace (skipped, saying why, where strace is missing or not allowed
to trace)."""

import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = """
import sys
from pathlib import Path
from kbc_tui.store.toml_io import write_toml_atomic
write_toml_atomic(Path(sys.argv[1]), {"name": "saved", "tasks": [{"component": "x", "config": "y"}]})
"""


def _strace(args):
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (apt-get install -y strace)")
    out = subprocess.run(["strace", "-f", "-y", "-qq", "-e", "trace=write,fsync,fdatasync,rename,renameat,renameat2",
                          *args], capture_output=True, text=True, cwd=ROOT, timeout=60)
    if out.returncode != 0 and "ptrace" in out.stderr:
        pytest.skip(f"strace cannot trace here: {out.stderr.strip().splitlines()[-1]}")
    assert out.returncode == 0, out.stderr
    return out.stderr.splitlines()


def test_a_saved_file_is_fsynced_before_its_rename_and_the_folder_after(tmp_path):
    target = tmp_path / "orchestrations" / "daily.toml"
    calls = [line for line in _strace([sys.executable, "-c", SCRIPT, str(target)]) if str(tmp_path) in line]
    renames = [i for i, c in enumerate(calls) if re.match(r"(\[pid +\d+\] )?rename(at2?)?\(", c.split("] ")[-1])
               and c.rstrip().endswith("= 0") and f'"{target}"' in c]
    assert len(renames) == 1, calls
    [rename] = renames
    temp = re.search(r'"([^"]+\.tmp)"', calls[rename]).group(1)
    synced_before = [i for i, c in enumerate(calls[:rename])
                     if re.search(r"f(data)?sync\(\d+<" + re.escape(temp) + ">", c)]
    assert synced_before, f"the temporary file {temp} was not fsynced before the rename: {calls}"
    written = [i for i, c in enumerate(calls) if re.search(r"write\(\d+<" + re.escape(temp) + ">", c)]
    assert written and max(written) < synced_before[-1], f"bytes were written after the fsync: {calls}"
    folder = re.escape(str(target.parent))
    synced_after = [c for c in calls[rename + 1:] if re.search(r"fsync\(\d+<" + folder + r">\)", c)]
    assert synced_after, f"the folder was not fsynced after the rename: {calls}"
    assert target.read_text().startswith('name = "saved"')
