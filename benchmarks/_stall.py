"""Shared by the ui_stall benchmarks: the real app in a tmux terminal (120x40) with a lateness probe on its
event loop (``_probed_app.py``), the probe's samples in a time window, and key-to-screen latency.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from _biglog import Terminal

HERE = Path(__file__).resolve().parent


class ProbedTerminal(Terminal):
    """The app (``kbc_tui.cli.main``, as the ``kbc-tui`` command runs it) with the probe; ``quit()`` ends it
    with ``q`` and returns the probe's samples as (loop time, lateness in s)."""

    def __init__(self, project: Path, samples: Path, flood: int | None = None) -> None:
        """``flood``: lines a second the app's own jobs log (``_probed_app.py --flood``)."""
        self.samples = samples
        extra = ["--flood", str(flood)] if flood else []
        super().__init__(project, [sys.executable, str(HERE / "_probed_app.py"), str(samples), *extra,
                                   "--project", str(project)])

    def quit(self, timeout: float = 30.0) -> list[tuple[float, float]]:
        self.press("q")
        t0 = time.perf_counter()
        while not self.samples.exists():
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"the app did not quit; screen:\n{self.screen()}")
            time.sleep(0.05)
        return [tuple(map(float, line.split())) for line in self.samples.read_text().splitlines()]


def key_latency(term: Terminal, key: str, marker: str, timeout: float = 10.0) -> float:
    """Seconds from sending ``key`` until ``marker`` is on the screen (polled as fast as capture-pane goes)."""
    t0 = time.perf_counter()
    term.press(key)
    while marker not in term.screen():
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"{marker!r} never appeared after {key!r}; screen:\n{term.screen()}")
    return time.perf_counter() - t0


def press_wrap(term: Terminal) -> float:
    """``w`` on the job screen: seconds until the status line says the new state (``wrap on`` / ``wrap off``)."""
    return key_latency(term, "w", "wrap off" if "wrap on" in term.screen() else "wrap on")


def toggle_wrap(term: Terminal, presses: int, pause: float = 0.25) -> list[float]:
    """``press_wrap`` ``presses`` times, ``pause`` seconds apart."""
    took = []
    for _ in range(presses):
        took.append(press_wrap(term))
        time.sleep(pause)
    return took


def window(samples: list[tuple[float, float]], start: float, end: float) -> list[float]:
    """The lateness samples (ms) taken between ``start`` and ``end`` (``time.monotonic()``, the loop's clock)."""
    return [late * 1000 for t, late in samples if start <= t <= end]


def summary(lateness_ms: list[float]) -> str:
    ordered = sorted(lateness_ms)
    return (f"{len(ordered):,} ticks; median {statistics.median(ordered):.1f} ms, "
            f"p99 {ordered[int(len(ordered) * 0.99)]:.1f} ms, max {ordered[-1]:.1f} ms")


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(len(ordered) * 0.99)]


def keys_summary(latencies_s: list[float]) -> str:
    ms = [t * 1000 for t in latencies_s]
    return (f"{len(ms)} presses; median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms "
            f"({', '.join(f'{t:.0f}' for t in ms)})")
