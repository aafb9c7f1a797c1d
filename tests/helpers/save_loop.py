"""Save an orchestration in a loop, forever (killed by the atomic-write test). Prints each version before writing it."""

import sys
from pathlib import Path

from kbc_tui.model import Orchestration, Phase, Task
from kbc_tui.store.toml_io import write_toml_atomic

path = Path(sys.argv[1])
i = 0
while True:
    orch = Orchestration("loop", f"Version {i}", "x" * (i % 5000),
                         phases=[Phase(f"p{j}", [Task("db-extractor", f"c{j}")]) for j in range(i % 40)])
    print(i, flush=True)
    write_toml_atomic(path, orch.to_toml())
    i += 1
