"""The job screen on big logs: it reads only what it shows, lets go of it when closed, and every log key works."""

import gc
import weakref

from textual.strip import Strip
from textual.widgets import Static

from kbc_tui.engine.events import LogBatch
from kbc_tui.model.job import LogLine
from kbc_tui.store.history import JobHistory
from kbc_tui.ui.screens.job_detail import JobDetailScreen
from tests.helpers.logs import T0, big_job, text_of
from tests.ui.conftest import SIZE, wait_until

LINES = 100_000
LONG = "a long line " + "x" * 200 + " THE-END-OF-THE-LONG-LINE"


def visible(app) -> str:
    """The rows of the job screen's log as drawn now."""
    log = app.screen.query_one("#log")
    return "\n".join(log.render_line(y).text.rstrip() for y in range(log.scrollable_content_region.height))


def status(app) -> str:
    return str(app.screen.query_one("#log-status", Static).render())


async def open_job(app, pilot, job_id: int) -> None:
    await app.push_screen(JobDetailScreen(job_id))
    await pilot.pause()
    await pilot.pause()


async def test_a_big_log_opens_reading_only_what_is_on_screen(make_app, demo_project, monkeypatch):
    job_id = big_job(demo_project, LINES)
    served: list[int] = []
    real = JobHistory.execute

    def execute(history, sql, params=()):
        rows = real(history, sql, params)
        served.append(len(rows))
        return rows

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        monkeypatch.setattr(JobHistory, "execute", execute)
        await open_job(app, pilot, job_id)
        assert text_of(LINES - 1) in visible(app)
        assert "Log: 100,000 lines · following" in status(app)
        assert sum(served) < 1000, f"{sum(served):,} rows read to show one screen"


async def test_the_screen_lets_go_of_the_log_when_it_closes(make_app, demo_project):
    job_id = big_job(demo_project, 5000)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for search in (False, True):  # a search runs in a worker: that must not hold the screen either
            screen = JobDetailScreen(job_id)
            alive = weakref.ref(screen)
            await app.push_screen(screen)
            del screen
            await pilot.pause()
            if search:
                await pilot.press("slash", *"batch 12", "enter")
                await wait_until(pilot, lambda: "match 1 of" in status(app), message="the search")
                await pilot.press("escape")  # closes the search field
            await pilot.press("escape")
            await pilot.pause(0.2)
            gc.collect()
            assert alive() is None, "the closed job screen is still referenced"


async def test_end_and_home_of_a_100k_line_log(make_app, demo_project):
    job_id = big_job(demo_project, LINES)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(app, pilot, job_id)
        await pilot.press("f", "home")
        await pilot.pause()
        assert visible(app).splitlines()[0].endswith(text_of(0))
        assert "paused" in status(app)
        await pilot.press("end")
        await pilot.pause()
        assert visible(app).splitlines()[-1].endswith(text_of(LINES - 1))
        await pilot.press("pageup")
        await pilot.pause()
        assert text_of(LINES - 1) not in visible(app) and text_of(LINES - 40) in visible(app)


async def test_search_finds_lines_far_down_and_n_N_move_between_them(make_app, demo_project):
    job_id = big_job(demo_project, LINES, special={10: ("info", "the Needle near the top"),
                                                    95_000: ("error", "a needle far down")})
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(app, pilot, job_id)
        await pilot.press("slash", *"NEEDLE", "enter")
        await wait_until(pilot, lambda: "match 1 of 2" in status(app), message="the search")
        assert "the Needle near the top" in visible(app) and "paused" in status(app)
        await pilot.press("n")
        await pilot.pause()
        assert "a needle far down" in visible(app) and "match 2 of 2" in status(app)
        assert visible(app).splitlines()[2].endswith("a needle far down")  # two lines of context above
        await pilot.press("N")
        await pilot.pause()
        assert "the Needle near the top" in visible(app) and "match 1 of 2" in status(app)
        await pilot.press("slash", "ctrl+a", *"no such text", "enter")
        await wait_until(pilot, lambda: any("No line contains" in str(n.message) for n in app._notifications),
                         message="the no-match notice")


async def test_follow_shows_new_lines_and_paused_keeps_the_place(make_app, demo_project):
    job_id = big_job(demo_project, 2000)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(app, pilot, job_id)
        app.engine.add_log(job_id, "warning", "a new line while following")
        await wait_until(pilot, lambda: "a new line while following" in visible(app), message="the new line")
        assert visible(app).splitlines()[-1].endswith("a new line while following")
        assert "Log: 2,001 lines" in status(app)
        await pilot.press("f")
        before = visible(app)
        app.engine.add_log(job_id, "info", "a line while paused")
        await wait_until(pilot, lambda: "Log: 2,002 lines" in status(app), message="the count")
        assert visible(app) == before
        await pilot.press("f")
        await pilot.pause()
        assert visible(app).splitlines()[-1].endswith("a line while paused")


async def test_scrolling_up_pauses_following_and_end_resumes_it(make_app, demo_project):
    job_id = big_job(demo_project, 2000)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(app, pilot, job_id)
        await pilot.press("pageup")
        assert "paused (f: follow)" in status(app)
        app.engine.add_log(job_id, "info", "logged while reading further up")
        await wait_until(pilot, lambda: "Log: 2,001 lines" in status(app), message="the count")
        assert "logged while reading further up" not in visible(app)
        await pilot.press("end")
        await pilot.pause()
        assert "following" in status(app) and visible(app).splitlines()[-1].endswith("logged while reading further up")


async def test_wrap_shows_long_lines_and_line_breaks_whole(make_app, demo_project):
    job_id = big_job(demo_project, 3000, special={2990: ("info", LONG),
                                                  2995: ("error", "Traceback (most recent call last):\n"
                                                                  "  File x.py\nValueError: boom")})
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_job(app, pilot, job_id)
        shown = visible(app)
        assert "THE-END-OF-THE-LONG-LINE" not in shown and "Traceback (most recent call last): ⏎" in shown
        await pilot.press("w")
        await pilot.pause()
        rows = visible(app).splitlines()
        assert "wrap on" in status(app)
        assert any("THE-END-OF-THE-LONG-LINE" in row for row in rows)
        assert any(row.strip() == "ValueError: boom" for row in rows)
        assert rows[-1].endswith(text_of(2999))  # still following: the last line on the last row
        await pilot.press("home")
        await pilot.pause()
        assert visible(app).splitlines()[0].endswith(text_of(0)) and "paused" in status(app)


async def test_a_flood_of_log_batches_is_merged(make_app, demo_project, monkeypatch):
    """10,000 lines a second arrive as a burst of batches while the UI is busy: the screen takes them in once."""
    job_id = big_job(demo_project, 100)
    handled = []
    real = JobDetailScreen.update_status
    monkeypatch.setattr(JobDetailScreen, "update_status", lambda self: (handled.append(1), real(self)))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(app, pilot, job_id)
        handled.clear()
        for i in range(200):  # as the engine's bus delivers them, while the screen is not yet back to its queue
            app.engine.events.emit(LogBatch(job_id, (LogLine(job_id, T0, "info", f"burst {i}"),)))
        await pilot.pause()
        await pilot.pause()
        assert 1 <= len(handled) <= 5


def live_strips() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, Strip))


async def test_following_keeps_the_drawn_rows_of_a_few_screens_only(make_app, demo_project):
    """Drawn rows are kept to scroll back a little, not for the whole flood: each is a Strip of ~16 objects
    the garbage collector scans, and many kept for long make its passes stall the UI (benchmark ui_stall)."""
    job_id = big_job(demo_project, 100)
    app = make_app(watch_files=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_job(app, pilot, job_id)
        before = live_strips()
        for burst in range(60):  # 60 screenfuls arrive, each drawn while following
            for i in range(40):
                app.engine.add_log(job_id, "info", f"burst {burst} line {i}")
            await wait_until(pilot, lambda: f"burst {burst} line 39" in visible(app), message=f"burst {burst}")
        kept = live_strips() - before
    assert kept <= 2000, f"{kept:,} drawn rows kept after following 2,400 lines"


async def test_mouse_selection_copies_the_lines_from_the_history(make_app, demo_project):
    job_id = big_job(demo_project, 5000)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(app, pilot, job_id)
        log = app.screen.query_one("#log")
        rows = visible(app).splitlines()
        await pilot.mouse_down(log, offset=(18, 2))  # inside the border: row 1, after the time and level
        await pilot.hover(log, offset=(30, 5))
        await pilot.mouse_up(log, offset=(30, 5))
        selected = app.screen.get_selected_text()
        assert selected.splitlines()[:3] == [rows[1][17:], rows[2], rows[3]]
        assert rows[4].startswith(selected.splitlines()[3])


async def test_pager_key_writes_the_log_and_cleans_up_without_a_terminal(make_app, demo_project, tmp_path,
                                                                          monkeypatch):
    import tempfile

    job_id = big_job(demo_project, 3000)
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    monkeypatch.setenv("PAGER", "less -R")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(app, pilot, job_id)
        await pilot.press("e")
        await wait_until(pilot, lambda: any("Cannot open less -R" in str(n.message) for n in app._notifications),
                         message="the pager's notice")  # a headless test has no terminal to hand over
        assert list(spool.iterdir()) == []


async def test_a_job_screen_open_until_the_job_ends_shows_each_line_once(make_app):
    """A running job's screen left open until the job ends: every line once ("Log: 18 lines" showed 10 twice)."""
    app = make_app(watch_files=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        job_id = await app.run_orchestration("sales-to-tableau")
        await open_job(app, pilot, job_id)
        await wait_until(pilot, lambda: app.engine.get_job(job_id).status.finished, message="the job's end")
        await pilot.pause(0.5)
        logged = app.engine.job_log(job_id)
        assert len(logged) > 5
        assert f"Log: {len(logged):,} lines" in status(app)
        rows = [row for row in visible(app).splitlines() if row.strip()]  # the whole log fits on the screen
        assert len(rows) == len(logged), "\n".join(rows)
        for row, line in zip(rows, logged):
            assert line.text[:40] in row


async def test_a_search_keeps_wrap_as_it_was(make_app, demo_project):
    """Submitting a search (with a 'w' in it, and after it) leaves wrap on, and off, as the user set it."""
    job_id = big_job(demo_project, 2000, special={1500: ("info", "a wide window")})
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(app, pilot, job_id)
        for wrap in (True, False):
            await pilot.press("w")
            await pilot.pause()
            assert app.screen.query_one("#log").wrap is wrap
            app.screen.query_one("#search").value = ""
            await pilot.press("slash", *"wide window", "enter")
            await wait_until(pilot, lambda: "match 1 of 1" in status(app), message="the search")
            assert app.screen.query_one("#log").wrap is wrap
            assert ("wrap on" if wrap else "wrap off") in status(app)
            await pilot.press("escape")
            await pilot.pause()


async def test_keys_typed_fast_after_slash_do_not_turn_wrap_off(make_app, demo_project):
    """A terminal delivers fast typing (or tmux send-keys) as one burst: "/wrap" turned wrap off."""
    from textual import events

    job_id = big_job(demo_project, 200)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(app, pilot, job_id)
        await pilot.press("w")
        await pilot.pause()
        log = app.screen.query_one("#log")
        assert log.wrap
        for char in "/wrap":  # queued before the first is handled
            app.post_message(events.Key("slash" if char == "/" else char, char))
        await pilot.pause(0.3)
        assert log.wrap and "wrap on" in status(app)
        assert app.focused is app.screen.query_one("#search")
        assert app.focused.value == "wrap"  # every key typed reached the field
        await pilot.press(*"/x")
        assert app.focused.value == "wrap/x"  # "/" in the field is text
