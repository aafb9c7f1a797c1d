"""The Textual application: screens over the engine's API (no engine internals here)."""

from __future__ import annotations

import asyncio
import gc
import sys
from pathlib import Path

from textual.app import App
from textual.binding import Binding

from kbc_tui.engine import Engine
from kbc_tui.engine.events import EngineProblem, JobChanged, LogBatch
from kbc_tui.errors import KbcError
from kbc_tui.model.text import one_line, printable
from kbc_tui.store import Project
from kbc_tui.ui.line_filter import NoControlCharacters
from kbc_tui.ui.messages import EngineEvent, JobLogGrew, ProjectReloaded

WATCH_SECONDS = 2.0
VALIDATE_AFTER_SECONDS = 0.5
UI_SWITCH_INTERVAL = 0.001
# the collector's thresholds: a young pass every 10,000 new objects, a middle one after every 5th young one
# (it scans at most ~60,000 objects: ~20 ms on a busy machine), a full one after every 201st middle one
# (~10 million objects; 20,000 / 20 / 20 gave ~9 million, but let the middle generation gather ~440,000
# objects: passes of ~100 ms)
GC_THRESHOLDS = (10_000, 4, 200)
SCHEDULER_START_DELAY = 1.0


def _kbc_commands():
    from kbc_tui.ui.commands import KbcCommands

    return KbcCommands


class KbcApp(App[None]):
    TITLE = "kbc-tui"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {lambda: _kbc_commands()}
    # q and ? type into a focused input: ctrl+q and F1 work everywhere (priority), and the footer shows them
    # where q and ? do not work (KbcFooter shows one key per action); ctrl+q asks first, as q does
    BINDINGS = [
        Binding("q", "quit_app", "Quit", priority=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+q", "quit_app", "Quit", priority=True),
        Binding("f1", "help", "Help", key_display="F1", priority=True),
    ]

    def __init__(self, project_dir: Path, *, watch_files: bool = True, run_jobs: bool = True) -> None:
        super().__init__()
        self.project_dir = Path(project_dir)
        self.project = Project.load(self.project_dir, quick=True)
        from kbc_tui.store.schedule_cache import ScheduleCache

        self.schedule_cache = ScheduleCache(self.project.state_dir)  # the first frame needs no croniter
        # the scheduler plans after the first frame (a thousand schedules cost croniter a few hundred ms)
        self.engine = Engine(self.project, scheduler_start_delay=SCHEDULER_START_DELAY,
                             tolerate_broken_history=True)  # the app opens anyway and says what is wrong
        self.watch_files = watch_files
        self.run_jobs = run_jobs  # False (kbc-tui --no-run): queue and watch only; a worker runs the jobs
        self._unsubscribe = None
        self._started_here: set[int] = set()
        self.sub_title = one_line(self.project.settings.name)
        self._no_controls = NoControlCharacters()
        self.hangup_guard = None  # set on a real terminal (``_exit_on_hangup``)
        self._hangup_task: asyncio.Future | None = None

    # -- what reaches the terminal ------------------------------------------------------------
    def get_line_filters(self):
        """Every line drawn passes ``NoControlCharacters``: no control character reaches the terminal."""
        return [*super().get_line_filters(), self._no_controls]

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Every notification (``Screen.notify`` and ``Widget.notify`` come here) carries names and server messages:
        never markup (``[red]`` is text, ``[/]`` no crash), control characters shown as escapes."""
        super().notify(printable(message), title=one_line(title), severity=severity, timeout=timeout, markup=False)

    # -- lifecycle ------------------------------------------------------------------------
    def get_default_screen(self):
        """The home screen is the first frame (no blank default screen before it)."""
        from kbc_tui.ui.screens.home import HomeScreen

        return HomeScreen()

    async def on_mount(self) -> None:
        # jobs' worker threads run Python too (row conversion): hand the GIL back to the UI thread
        # every millisecond instead of every 5 ms, so typing and redraws stay smooth while a job runs
        sys.setswitchinterval(UI_SWITCH_INTERVAL)
        self._exit_on_hangup()
        self._unsubscribe = self.engine.events.subscribe(self._engine_listener)
        # a shared state: schedules are the servers' `kbc-tui scheduler`s' (a laptop's checkout may be behind)
        await self.engine.start(run_jobs=self.run_jobs, scheduler=self.run_jobs and not self.engine.shared)
        if self.engine.problem:  # e.g. a damaged job history: the app works on the files and says why not jobs
            self.notify(self.engine.problem, title="Jobs", severity="error", timeout=12)
        self.set_timer(VALIDATE_AFTER_SECONDS, self.validate_in_background)  # after the first frame
        # the app's long-lived objects leave the collector's scans, and full collections get rarer: a job's
        # millions of short-lived row objects otherwise trigger full passes that pause the UI for 30+ ms;
        # what a session keeps for a while (a job's imported modules, screens, drawn rows) is scanned in
        # small middle-generation passes (GC_THRESHOLDS)
        self.call_after_refresh(self._after_first_frame)
        gc.set_threshold(*GC_THRESHOLDS)
        if self.watch_files:
            self.set_interval(WATCH_SECONDS, self._check_files)

    def get_driver_class(self):
        """On a real terminal, ``KbcDriver``: Textual's ``LinuxDriver`` whose writes cannot wedge the app when the
        terminal goes away (``kbc_tui.ui.terminal``)."""
        driver_class = super().get_driver_class()
        if driver_class.__name__ == "LinuxDriver" and driver_class.__module__ == "textual.drivers.linux_driver":
            from kbc_tui.ui.terminal import KbcDriver

            return KbcDriver
        return driver_class

    def _exit_on_hangup(self) -> None:
        """The terminal went away (an SSH connection dropped, tmux killed, a write found it gone) or the process
        was asked to stop: stop the engine first (jobs of this process end ``cancelled``, the runner lock says
        ``stopped``), then quit as ``q`` would. On a real terminal ``HangupGuard`` hears SIGHUP / SIGTERM even
        when the UI thread is stuck, and ends the process within ``HANGUP_DEADLINE`` seconds whatever happens
        (giving up the runner lock: the next runner marks this process's jobs terminated)."""
        import signal
        import threading

        loop = asyncio.get_running_loop()
        driver = self._driver
        from kbc_tui.ui.terminal import HangupGuard, KbcDriver

        if isinstance(driver, KbcDriver) and threading.current_thread() is threading.main_thread():
            def on_stop(reason: str) -> None:  # any thread, or a signal handler: hand over to the loop only
                driver.ending.set()  # never wait for the terminal again (it may be gone, or read nothing)
                loop.call_soon_threadsafe(self._stop_for_hangup)

            self.hangup_guard = HangupGuard(on_stop, self.engine.lock.abandon)
            self.hangup_guard.install()
            driver.on_terminal_lost = lambda: self.hangup_guard.trigger("terminal lost", signal.SIGHUP)
            return
        for sig in (signal.SIGHUP, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._stop_for_hangup)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no such signal
                pass

    def _stop_for_hangup(self) -> None:
        if self._hangup_task is None:
            self._hangup_task = asyncio.ensure_future(self._stop_engine_and_exit())

    async def _stop_engine_and_exit(self) -> None:
        try:
            if self._unsubscribe:
                self._unsubscribe()
                self._unsubscribe = None
            await self.engine.stop(grace=0)
        finally:
            self.exit()

    @staticmethod
    def _after_first_frame() -> None:
        gc.freeze()
        gc.enable()  # `kbc-tui` turned it off for the start-up

    async def on_unmount(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        await self.engine.stop(grace=0)

    def validate_in_background(self) -> None:
        """Component parameter checks need their libraries: run them off the UI thread."""
        self.run_worker(self._validate, thread=True, exclusive=True, group="validate")

    def _validate(self) -> None:
        from kbc_tui.components import validate_config

        fresh = Project.load(self.project_dir, validate_config)
        self.call_from_thread(self._apply_problems, fresh)

    def _apply_problems(self, fresh: Project) -> None:
        if [str(p) for p in fresh.problems] != [str(p) for p in self.project.problems]:
            self.project.problems = fresh.problems
            self._broadcast(ProjectReloaded)

    # -- engine events ------------------------------------------------------------------------
    def _engine_listener(self, event) -> None:
        if isinstance(event, LogBatch):  # screens read log lines from the history; merged when they flood
            mail = any("e-mail" in line.text for line in event.lines)
            self._broadcast(lambda: JobLogGrew(event.job_id, mail))
            return
        self._broadcast(lambda: EngineEvent(event))
        if isinstance(event, EngineProblem):
            if event.message:
                self.notify(event.message, title="Jobs", severity="error", timeout=12)
            else:
                self.notify("The job history can be written again: jobs run again.", title="Jobs", timeout=8)
        if isinstance(event, JobChanged) and event.job.status.finished and event.job.id in self._started_here:
            job = event.job
            severity = {"success": "information", "warning": "warning"}.get(job.status.value, "error")
            self.notify(f"Job {job.id} ({job.orchestration}) finished: {job.status.value}"
                        + (f" — {job.message}" if job.message and job.status.value != "success" else ""),
                        severity=severity, timeout=8)
            self._started_here.discard(job.id)

    def _broadcast(self, make) -> None:
        """Post a fresh message (``make()``) to every screen on the stack."""
        for screen in self.screen_stack:
            screen.post_message(make())

    async def run_orchestration(self, orch_id: str) -> int | None:
        """Queue a manual run; returns the job id (or None after telling the user why not)."""
        try:
            job = await self.engine.enqueue(orch_id)
        except KbcError as exc:
            self.notify(str(exc), severity="error")
            return None
        self._started_here.add(job.id)
        where = "" if self.engine.is_runner else " (another kbc-tui process runs this project's jobs)"
        self.notify(f"Job {job.id} queued: {orch_id}{where}", timeout=4)
        return job.id

    # -- files changed on disk ---------------------------------------------------------------------
    def _check_files(self) -> None:
        if any(getattr(screen, "editing", False) for screen in self.screen_stack):
            return  # never reload under an open editor; its save will detect the conflict
        if self.project.changed_on_disk():
            self.reload_project()
            self.notify("Project files changed on disk: reloaded", timeout=3)

    def reload_project(self) -> None:
        fresh = Project.load(self.project_dir, quick=True)
        self.project.__dict__.update(fresh.__dict__)  # the engine and screens share this object
        self._broadcast(ProjectReloaded)
        self.validate_in_background()

    # -- actions -------------------------------------------------------------------------------------
    def running_here(self) -> list:
        return self.engine.running_jobs()

    def action_quit_app(self) -> None:
        """Quit; asks first when an editor has unsaved changes or this process runs jobs."""
        from kbc_tui.ui.widgets.dialogs import ConfirmModal

        unsaved = [s for s in self.screen_stack if getattr(s, "dirty", False)]
        running = self.running_here()
        if not unsaved and not running:
            self.exit()
            return
        reasons = []
        if unsaved:
            reasons.append("unsaved changes will be lost")
        if running:
            reasons.append("running jobs will be cancelled: " + ", ".join(f"{j.id} ({j.orchestration})"
                                                                          for j in running))
        self.push_screen(ConfirmModal("Quit? " + "; ".join(reasons) + ".", yes="Quit", no="Stay"),
                         self._quit_confirmed)

    async def _quit_confirmed(self, yes: bool | None) -> None:
        if not yes:
            return
        for job in self.running_here():
            await self.engine.cancel(job.id)
        self.exit()

    def action_help(self) -> None:
        from kbc_tui.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))
