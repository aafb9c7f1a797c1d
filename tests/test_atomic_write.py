"""Atomic writes: a process saving an orchestration is SIGKILLed at random moments, 100 times;
the file always parses and equals one of the versions written."""

import os
import random
import signal
import subprocess
import sys
import time
import tomllib

import pytest

from kbc_tui.model import Orchestration, Phase, Task
from kbc_tui.store.toml_io import dumps_toml
from tests.conftest import ROOT


def version(i: int) -> bytes:
    orch = Orchestration("loop", f"Version {i}", "x" * (i % 5000),
                         phases=[Phase(f"p{j}", [Task("db-extractor", f"c{j}")]) for j in range(i % 40)])
    return dumps_toml(orch.to_toml())


@pytest.mark.slow
def test_sigkill_never_leaves_a_torn_file(tmp_path):
    path = tmp_path / "loop.toml"
    rng = random.Random(1234)
    kills = 0
    for _ in range(100):
        proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "helpers" / "save_loop.py"), str(path)],
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
        proc.stdout.readline()  # it is writing now
        time.sleep(rng.uniform(0, 0.03))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        if not path.exists():
            continue  # killed before the first rename: no file, never a partial one
        content = path.read_bytes()
        tomllib.loads(content.decode())  # always parses
        name = tomllib.loads(content.decode())["name"]
        assert content == version(int(name.split()[1])), "the file is not exactly one written version"
        path.unlink()
    assert kills == 100
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "loop.toml"]
    # temp files of killed writers may remain (hidden, *.tmp); they are never the target itself
    assert all(n.startswith(".loop.toml.") and n.endswith(".tmp") for n in leftovers)
