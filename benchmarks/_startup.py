"""Time from process start to the first full frame, measured from outside in tmux (polling the screen), for
kbc-tui and for its reference (``_minimal_app.py``: the same first frame, built the fastest way Textual allows).

Both get the same fairness: both are byte-compiled (kbc_tui by ``compileall``; the reference module, which
carries the frame's rows, by ``py_compile``; Textual and the rest arrive compiled by pip), both start as
``python -m MODULE``, both have one warm-up session first that stays up 3 s (the OS file cache, and whatever
a session writes for the next one: kbc-tui's caches in ``.kbc/``), and then they alternate, so both see the
same machine.
"""

from __future__ import annotations

import asyncio
import py_compile
import shlex
import statistics
import subprocess
import sys
import time
import uuid
from importlib.util import cache_from_source
from pathlib import Path

from _common import kill_tmux_session

HERE = Path(__file__).resolve().parent
WARM_UP_LINGER = 3.0  # seconds a warm-up session stays up (a user's earlier session, which wrote its caches)
SIZE = (120, 40)


def time_to_screen(command: str, marker: str, timeout: float = 60.0, linger: float = 0.0,
                   cwd: Path | None = None) -> float:
    session = f"kbcbench-{uuid.uuid4().hex[:8]}"
    where = ["-c", str(cwd)] if cwd else []
    t0 = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(SIZE[0]), "-y", str(SIZE[1]), *where,
                    command], check=True)
    try:
        while True:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                    text=True).stdout
            if marker in screen:
                elapsed = time.perf_counter() - t0
                time.sleep(linger)
                return elapsed
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"{marker!r} never appeared; screen:\n{screen}")
            time.sleep(0.005)
    finally:
        kill_tmux_session(session)  # and reap the app (SIGKILL if it outlives its terminal by 10 s)


def compile_package() -> None:
    """Byte-compile kbc_tui first, as Python does on a user's first start. Textual and every other installed
    package arrive compiled by pip; an editable install of kbc_tui does not, and with PYTHONDONTWRITEBYTECODE
    set (as on the development machines) every start would recompile it (~20 ms), which no user sees twice."""
    import compileall

    compileall.compile_dir(str(HERE.parent / "kbc_tui"), quiet=1)


def home_frame(project: Path) -> dict:
    """What kbc-tui's first frame shows on ``project`` (read from the real home screen, headless, at 120x40):
    title, sub-title, the table's columns and widths, its first screenful of rows, the footer's keys."""
    from textual.widgets import DataTable

    from kbc_tui.ui.app import KbcApp

    async def read() -> dict:
        app = KbcApp(project, watch_files=False)
        async with app.run_test(size=SIZE):
            table = app.screen.query_one(DataTable)
            first = max(20, SIZE[1])  # the home screen's first batch: one screenful
            rows = [[(cell.plain, str(cell.style), [(s.start, s.end, str(s.style)) for s in cell.spans])
                     for cell in table.get_row_at(i)] for i in range(min(first, table.row_count))]
            bindings = [(b.binding.key, b.binding.description, b.binding.key_display)
                        for b in app.screen.active_bindings.values() if b.binding.show]
            return {"title": app.title, "sub_title": app.sub_title, "rows": rows, "bindings": bindings,
                    "columns": [(str(c.label), c.width) for c in table.columns.values()]}

    return asyncio.run(read())


def write_reference(frame: dict, folder: Path) -> tuple[str, Path]:
    """``_minimal_app.py`` with ``frame`` compiled in, as ``folder/kbc_reference.py`` (byte-compiled);
    returns the command that starts it and the folder to start it in."""
    source = (HERE / "_minimal_app.py").read_text()
    start = source.index("FRAME: dict = ")
    end = source.index("\n\n\n", start)
    folder.mkdir(parents=True, exist_ok=True)
    module = folder / "kbc_reference.py"
    module.write_text(source[:start] + f"FRAME: dict = {frame!r}" + source[end:])
    py_compile.compile(str(module), cfile=cache_from_source(str(module)), doraise=True)
    return quote(sys.executable, "-m", "kbc_reference"), folder


def compare(project: Path, marker: str, scratch: Path, runs: int) -> list[tuple[float, float]]:
    """Seconds to the first frame of (kbc-tui on ``project``, the reference showing the same frame) for
    ``runs`` pairs run back to back; ``marker`` is text of that frame; the reference is written to ``scratch``."""
    compile_package()
    reference, folder = write_reference(home_frame(project), scratch / "reference")
    ours = quote(sys.executable, "-m", "kbc_tui", "--project", str(project))
    pairs = []
    keeper = f"kbcbench-keeper-{uuid.uuid4().hex[:8]}"  # keeps the tmux server up between runs
    subprocess.run(["tmux", "new-session", "-d", "-s", keeper, "sleep 600"], check=True)
    try:
        time_to_screen(reference, marker, linger=WARM_UP_LINGER, cwd=folder)  # the same warm-up for both
        time_to_screen(ours, marker, linger=WARM_UP_LINGER, cwd=folder)
        for _ in range(runs):
            ref = time_to_screen(reference, marker, cwd=folder)
            pairs.append((time_to_screen(ours, marker, cwd=folder), ref))
    finally:
        kill_tmux_session(keeper)
    return pairs


def report(pairs: list[tuple[float, float]], ours: str) -> float:
    """Prints the medians and returns the ratio: the median of the pairs' ratios (each pair ran back to back,
    so a change in the machine's load between pairs does not move it as it moves the times)."""
    runs = len(pairs)
    mine, ref = (statistics.median(p[i] for p in pairs) * 1000 for i in (0, 1))
    print(f"{ours}: {mine:.0f} ms (median of {runs})")
    print(f"reference (the same frame, minimal Textual app): {ref:.0f} ms (median of {runs})")
    ratio = statistics.median(mine / ref for mine, ref in pairs)
    print(f"ratio: {ratio:.2f} (median of the {runs} pairs' ratios)")
    return ratio


def quote(*parts: str) -> str:
    return " ".join(shlex.quote(p) for p in parts)
