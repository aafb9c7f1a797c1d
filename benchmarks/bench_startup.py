"""startup: process start to the first full frame of the home screen on the demo project, as a ratio to the
reference app showing the same frame, both measured side by side in tmux at 120x40. Goal (issue 5): <= 1.3.

The reference (``_minimal_app.py``) is a Textual app with a Header, one DataTable and a Footer showing exactly
what kbc-tui's first frame shows (title, columns and widths, rows with their styles, footer keys), its content
compiled in as literals: it reads no file, no project, no history, no CSS. That is the fastest honest
baseline for "time to first full frame" of a Textual app of this shape: anything faster would draw less, or
not be Textual. The ratio is then what kbc-tui costs above Textual itself: importing its code, reading the
project and its caches, opening the job history, its stylesheet and its screen's widgets.

Fairness (``_startup.py``): both byte-compiled, both started as ``python -m MODULE``, both after one warm-up
session of their own that stays up 3 s (file cache; kbc-tui's caches in ``.kbc/``); then 15 pairs, each
reference-then-kbc-tui back to back, and the ratio is the median of the pairs' ratios (a change in the
machine's load between pairs moves both of a pair alike).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import copy_demo
from _startup import compare, report

RUNS = 15


def main(argv: list[str]) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "configs"
        copy_demo(demo)
        pairs = compare(demo, "Sales to Tableau", Path(tmp), RUNS)
    return report(pairs, "kbc-tui home screen on the demo"), "ratio"
