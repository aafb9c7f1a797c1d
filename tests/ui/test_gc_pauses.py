"""The app's garbage-collector settings keep every pass over the young generations short.

A pass costs time in proportion to the objects it scans, and it runs on whichever thread allocates, holding
the GIL: the UI waits for all of it. What a session creates after the first frame and keeps for a while
(the modules a job imports, screens, drawn rows in caches) ends up in the middle generation; if that
generation may gather 400,000 objects before it is collected, its pass stalls the UI for ~100 ms (the job
screen following a job that logs 10,000 lines a second: benchmark ui_stall). Full passes stay as rare as
before (about every 9 million new objects)."""

import gc

from tests.ui.conftest import SIZE

MAX_SCANNED = 75_000  # objects a pass over the young generations may scan (~20 ms on a busy machine)


async def test_young_generation_passes_stay_small_while_objects_pile_up(make_app):
    app = make_app(watch_files=False)
    scanned: list[int] = []

    def measure(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 1:
            scanned.append(len(gc.get_objects(0)) + len(gc.get_objects(1)))

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)  # the first frame is drawn: the app's settings are in force
        gc.callbacks.append(measure)
        try:
            kept = [[] for _ in range(600_000)]  # long-lived objects arriving (caches, imported modules)
        finally:
            gc.callbacks.remove(measure)
        young, middle, old = gc.get_threshold()
        full_every = young * (middle + 1) * (old + 1)  # new objects between two full passes, at most
    assert len(kept) == 600_000
    assert scanned, "no pass over the middle generation ran while 600,000 objects arrived"
    assert max(scanned) <= MAX_SCANNED, f"a pass scanned {max(scanned):,} objects"
    assert full_every >= 8_000_000, f"a full pass every {full_every:,} new objects: more often than before"
