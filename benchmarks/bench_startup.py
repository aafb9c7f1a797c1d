"""startup: process start to the first full frame of the home screen on the demo project, as a ratio to a
minimal Textual app showing one DataTable, both measured side by side under tmux. Goal (issue 5): <= 1.3.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from _common import ROOT
from _startup import compare, quote


def main(argv: list[str]) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "configs"
        shutil.copytree(ROOT / "configs", demo, ignore=shutil.ignore_patterns(".kbc", "out"))
        ours, ref = compare(quote(sys.executable, "-m", "kbc_tui", "--project", str(demo)), "Sales to Tableau",
                            quote(sys.executable, str(ROOT / "benchmarks" / "_minimal_app.py")), "READY-MARKER")
    print(f"kbc-tui home screen on the demo: {ours * 1000:.0f} ms (median of 9)")
    print(f"minimal Textual app with one DataTable: {ref * 1000:.0f} ms (median of 9)")
    print(f"ratio: {ours / ref:.2f}")
    return ours / ref, "ratio"
