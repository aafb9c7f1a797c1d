"""E-mail notifications: who gets which e-mail about a job, and getting it there.

The process that runs jobs (the runner-lock holder) decides, when a job ends or crosses its processing
threshold, who is told (Keboola's rules, below), writes the message to an outbox in the job history and
sends it in the background with aiosmtplib. Sending never touches the job's status and never waits in
the runner or the UI: a failed attempt is retried (3 attempts, with backoff) and every failure is written
to the job's log, where the job screen shows it. What is still unsent when the process stops stays in the
outbox, and the next process that runs jobs in this project sends it — in a shared state (PostgreSQL, several
workers) the next process of the same worker name (``--name``), as each worker sends only the e-mails it queued.

Who is told:
- a **scheduled** run: the addresses configured for the event (``error``, ``warning``, ``success``,
  ``processing``);
- a **manual** run: only the user who ran it (``[user] email`` / ``KBC_USER_EMAIL``, recorded with the
  job), and only for events that have at least one address configured; with no known address, nothing
  is sent and the job log says so.
A job found ``terminated`` when a runner starts (its process died) gets its error e-mail then.
"""

from __future__ import annotations

import asyncio
import logging
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from kbc_tui.engine.events import MailWaiting
from kbc_tui.engine.waiting import wait_event
from kbc_tui.errors import KbcError, StateError
from kbc_tui.model.job import Job, JobStatus, Notification, Trigger
from kbc_tui.model.orchestration import Orchestration
from kbc_tui.store.secrets import Masker

if TYPE_CHECKING:
    from kbc_tui.engine.engine import Engine
    from kbc_tui.model.project import ProjectSettings, SmtpSettings

log = logging.getLogger(__name__)

ATTEMPTS = 3
#: ``last_error`` of an e-mail whose sending a stop cut short; its "not sent yet" line is in the job log already
CUT_SHORT = "not sent yet: kbc-tui stopped before the SMTP server took it"


def _looks_like_email(value: str) -> bool:
    return "@" in value and not value.startswith("@") and not value.endswith("@")


class Notifier:
    #: seconds to wait before the 2nd and the 3rd attempt (tests shorten them)
    retry_delays: tuple[float, ...] = (10.0, 60.0)
    #: how long ``stop()`` lets e-mails being sent finish before leaving them to the next runner (a `kbc-tui run`
    #: waits this long after its job when the SMTP server hangs); after ``stop_quiet`` s it says that it waits
    stop_grace: float = 3.0
    stop_quiet: float = 0.5
    #: how often the outbox is looked at when nothing woke the sender
    idle_seconds: float = 30.0

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self._timers: dict[int, asyncio.Task] = {}
        self._sending: dict[int | None, asyncio.Task] = {}
        #: the job of each e-mail being sent (for what ``stop()`` says it waits for)
        self._sending_job: dict[int | None, int] = {}
        self._wake: asyncio.Event | None = None
        self._loop_task: asyncio.Task | None = None
        self._stopping = False
        #: jobs that ended while the history could not be written: their e-mail is queued once it can be
        self._unqueued: dict[int, Masker | None] = {}
        #: the e-mails this process tried to send, with their ``last_error`` when it took them: at stop, only these are
        #: logged as not sent yet (a process that never tried one, e.g. before its retry time, adds no line: each stop
        #: added one per pending e-mail), and not again when an earlier stop cut it short and said so (``CUT_SHORT``)
        self._tried: dict[int, str] = {}
        #: a shared state (several workers): the e-mails this process queued, the only ones it sends (two workers
        #: must not send one e-mail twice; ``add_notification`` queues each once, whoever asks)
        self._mine: set[int] = set()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._wake = asyncio.Event()
        self._loop_task = asyncio.create_task(self._deliver_loop(), name="kbc-notifier")

    async def stop(self) -> None:
        self._stopping = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self.engine.is_runner:
            try:
                self._send_due()  # e.g. the e-mail of the job a `kbc-tui run` has just finished
            except Exception:  # a busy database: the e-mail stays queued; the engine must still stop
                log.exception("cannot read the notification outbox at stop")
        if self._sending:
            quiet = min(self.stop_quiet, self.stop_grace)
            _, left = await asyncio.wait(set(self._sending.values()), timeout=quiet)
            if left and self.stop_grace > quiet:  # a slow or hanging server: say why we do not end yet, for how long
                jobs = tuple(sorted({job for note_id, job in self._sending_job.items() if note_id in self._sending}))
                self.engine.events.emit(MailWaiting(jobs, self.stop_grace - quiet))
                await asyncio.wait(left, timeout=self.stop_grace - quiet)
        for task in list(self._sending.values()):
            task.cancel()
        await asyncio.gather(*self._sending.values(), return_exceptions=True)
        try:
            unsent = self.engine.history.notifications() if self.engine.is_runner else []
        except Exception:
            unsent = []
        # a shared state: only this worker sends the e-mails it queued, so the next process under its name does
        when = (f"as worker {self.engine.worker_name}" if self.engine.shared else "in this project")
        for note in unsent:
            if note.id not in self._tried or self._tried[note.id] == CUT_SHORT:
                continue
            self.engine.add_log(note.job_id, "warning",
                                f"The {note.event} e-mail to {', '.join(note.recipients)} is not sent yet: kbc-tui "
                                f"stopped; it is sent when kbc-tui next runs jobs {when}")

    def wake(self) -> None:
        """Look at the outbox now (a new runner calls it), and queue e-mails that could not be queued before."""
        for job_id, masker in list(self._unqueued.items()):
            del self._unqueued[job_id]
            self.job_finished(job_id, masker)
        if self._wake is not None:
            self._wake.set()

    # -- hooks: the engine calls these in the runner process ---------------------------------------
    def job_started(self, job: Job) -> None:
        """Arm the processing alert: fires once if the job outlives its usual duration + tolerance."""
        try:
            self._arm_processing(job)
        except Exception:  # notifications never break a job
            log.exception("cannot arm the processing alert of job %s", job.id)

    def job_finished(self, job_id: int, masker: Masker | None = None) -> None:
        """The job ended (or was found terminated): queue its e-mail for whoever should get it."""
        timer = self._timers.pop(job_id, None)
        if timer is not None:
            timer.cancel()
        try:  # on a full disk once more, after the reserve is given back
            self.engine.record(self._queue_for_finished, job_id, masker)
        except StateError:  # the history cannot be written now: queue it when it can (see wake)
            self._unqueued[job_id] = masker
        except Exception as exc:  # notifications never break a job
            log.exception("cannot prepare the notification of job %s", job_id)
            self.engine.add_log(job_id, "error", f"Notification not sent: internal error: {exc}")

    def adopt(self, job_id: int) -> None:
        """A shared state: this worker ended a job another worker left (it won ``terminate_job``, so no other
        worker adopts it); the job's e-mails still pending (queued by that worker, never sent) are ours to send."""
        try:
            pending = [n.id for n in self.engine.history.notifications(job_id=job_id) if n.status == "pending"]
        except StateError:
            return
        self._mine.update(i for i in pending if i is not None)
        if pending:
            self.wake()

    def adopt_own(self) -> None:
        """A shared state: this worker joined under its name; the e-mails its previous process of that name left
        pending (it stopped before they went, or died and was restarted) are ours to send — before, nobody sent
        them, as each worker sends only what it queued. ``register_worker`` lets one live worker have a name, so
        no two adopt them. A job another worker terminated is not ours: that worker adopted its e-mails."""
        name = self.engine.worker_name
        try:
            for note in self.engine.history.notifications():
                if note.id is None or note.id in self._mine:
                    continue
                job = self.engine.history.job(note.job_id, with_tasks=False)
                if job is not None and job.worker == name and job.status is not JobStatus.TERMINATED:
                    self._mine.add(note.id)
        except StateError:
            log.exception("cannot read the notification outbox when joining the workers")

    def settings(self) -> "ProjectSettings":
        """``kbc.toml`` as it is now (a scheduler daemon sees SMTP changes made in the TUI); if it is broken
        now, what was loaded."""
        from kbc_tui.model.project import ProjectSettings
        from kbc_tui.store.project import SETTINGS_FILE
        from kbc_tui.store.toml_io import read_toml

        path = self.engine.root / SETTINGS_FILE
        try:
            data, _ = read_toml(path)
            problems: list = []
            fresh = ProjectSettings.from_toml(data, path=path, problems=problems)
        except Exception:
            return self.engine.project.settings
        return self.engine.project.settings if problems else fresh

    # -- deciding -------------------------------------------------------------------------------------
    def _orchestration(self, orch_id: str) -> Orchestration | None:
        from kbc_tui.engine.jobspec import load_orchestration

        try:
            return load_orchestration(self.engine.root, orch_id)
        except KbcError:
            return self.engine.project.orchestrations.get(orch_id)  # broken or deleted now: what was loaded

    def recipients(self, job: Job, event: str, orch: Orchestration) -> tuple[list[str], str | None]:
        """Who gets the ``event`` e-mail of ``job``, and why nobody does (a log line) when that needs saying."""
        configured = orch.notifications.for_event(event)
        if job.trigger is Trigger.SCHEDULE:
            return configured, None
        if not configured:
            return [], None
        if _looks_like_email(job.triggered_by):
            return [job.triggered_by], None
        who = f" by {job.triggered_by}" if job.triggered_by else ""
        return [], (f"No {event} e-mail sent: a manual run notifies only the user who ran it, and the e-mail "
                    f"address of that user{who} is not known (set [user] email in kbc.toml or KBC_USER_EMAIL)")

    def _smtp_missing(self, settings: "ProjectSettings", job_id: int, event: str, recipients: list[str]) -> bool:
        if settings.smtp.configured:
            return False
        self.engine.add_log(job_id, "warning", f"No {event} e-mail sent to {', '.join(recipients)}: no SMTP "
                                               "server is configured ([smtp] host in kbc.toml; S on the home screen)")
        return True

    def _masker(self, settings: "ProjectSettings", masker: Masker | None) -> Masker:
        masker = masker or Masker()
        try:
            from kbc_tui.engine.mail import smtp_password

            masker.add(smtp_password(settings.smtp, self.engine.project.secrets))
        except KbcError:
            pass
        return masker

    def _queue(self, note: Notification) -> None:
        note_id = self.engine.history.add_notification(note)
        if note_id is not None:
            self._mine.add(note_id)
            self.wake()

    def _queue_for_finished(self, job_id: int, masker: Masker | None) -> None:
        from kbc_tui.engine.report import failing_task, job_report

        job = self.engine.history.job(job_id)
        if job is None or job.status.event is None:
            return
        event = job.status.event
        orch = self._orchestration(job.orchestration)
        if orch is None:
            return
        recipients, why_not = self.recipients(job, event, orch)
        if why_not:
            self.engine.add_log(job.id, "warning", why_not)
        if not recipients:
            return
        settings = self.settings()
        if self._smtp_missing(settings, job.id, event, recipients):
            return
        failed = failing_task(job.tasks)  # its log lines are in the history: the runner flushes before it ends a job
        tail = self.engine.history.log_tail(job.id, f"{failed.component}/{failed.config}" if failed else None)
        self._queue(job_report(job, event, recipients, orch_name=orch.name, project_name=settings.name,
                               project_root=str(self.engine.root), log=tail, masker=self._masker(settings, masker)))

    def _arm_processing(self, job: Job) -> None:
        orch = self._orchestration(job.orchestration)
        if orch is None:
            return
        recipients, _ = self.recipients(job, "processing", orch)
        if not recipients:
            return
        average = self.engine.average_duration(job.orchestration)
        if average is None:
            return  # no successful run yet: nothing to compare with
        tolerance = orch.notifications.processing_tolerance
        threshold = average * (1 + tolerance / 100)
        started = time.monotonic()

        async def alert() -> None:
            await asyncio.sleep(threshold)
            self._timers.pop(job.id, None)
            try:
                send_alert()
            except Exception as exc:  # e.g. a busy database: say so where the job's people look
                log.exception("processing alert of job %s failed", job.id)
                self.engine.add_log(job.id, "error", f"The processing alert was not sent: {exc}")

        def send_alert() -> None:
            from kbc_tui.engine.report import job_report

            current = self.engine.history.job(job.id)
            if current is None or current.status is not JobStatus.PROCESSING:
                return
            settings = self.settings()
            if self._smtp_missing(settings, job.id, "processing", recipients):
                return
            running_for = time.monotonic() - started
            self.engine.add_log(job.id, "warning",
                                f"Job {job.id} has been running for {running_for:.1f} s, more than its usual "
                                f"{average:.1f} s + {tolerance} %: sending the processing alert")
            self._queue(job_report(current, "processing", recipients, orch_name=orch.name,
                                   project_name=settings.name, project_root=str(self.engine.root),
                                   log=self.engine.history.log_tail(current.id, None),
                                   masker=self._masker(settings, None), running_for=running_for, average=average,
                                   tolerance=tolerance))

        self._timers[job.id] = asyncio.create_task(alert(), name=f"kbc-processing-alert-{job.id}")

    # -- sending ----------------------------------------------------------------------------------------
    async def _deliver_loop(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            due = None
            if self.engine.is_runner:
                try:
                    self._send_due()
                    # shared: wait for the retries of our own e-mails only (others' are not ours to send); skipping
                    # this in shared mode left a retry to the next idle look at the outbox, up to 30 s late
                    only = self._mine if self.engine.shared else None
                    due = self.engine.history.next_notification_due(exclude=self._sending, only=only)
                except Exception:  # a busy database now is fine next time
                    log.exception("notification outbox check failed")
            wait = self.idle_seconds if due is None else min(self.idle_seconds, max(0.05, due - time.time()))
            await wait_event(self._wake, wait)
            self._wake.clear()

    def _send_due(self) -> None:
        shared = self.engine.shared
        for note in self.engine.history.notifications(due_before=time.time()):
            if shared and note.id not in self._mine:
                continue
            if note.id not in self._sending:
                self._tried[note.id] = note.last_error
                self._sending_job[note.id] = note.job_id
                self._sending[note.id] = asyncio.create_task(self._send(note), name=f"kbc-mail-{note.id}")

    def _message(self, note: Notification, smtp: "SmtpSettings") -> EmailMessage:
        from kbc_tui.engine.mail import sender_address

        message = EmailMessage()
        message["Subject"] = note.subject
        message["From"] = sender_address(smtp)
        message["To"] = ", ".join(note.recipients)
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid("kbc-tui")
        message["X-Kbc-Job"] = str(note.job_id)
        message["X-Kbc-Event"] = note.event
        message.set_content(note.body_text)
        message.add_alternative(note.body_html, subtype="html")
        return message

    async def _send(self, note: Notification) -> None:
        from kbc_tui.engine.mail import MailError, send_mail, smtp_password

        add_log = self.engine.add_log
        who = ", ".join(note.recipients)
        note.attempts += 1
        try:
            smtp = self.settings().smtp
            refused = await send_mail(smtp, smtp_password(smtp, self.engine.project.secrets),
                                      self._message(note, smtp))
        except asyncio.CancelledError:
            note.attempts -= 1  # cut short by stop() (which logs it as not sent yet), not refused by the server
            note.last_error = CUT_SHORT  # the next process that cuts it short adds no second line
            raise
        except MailError as exc:
            note.last_error = str(exc)
            if note.attempts >= ATTEMPTS:
                note.status = "failed"
                add_log(note.job_id, "error", f"The {note.event} e-mail to {who} was not sent: attempt "
                                              f"{note.attempts} of {ATTEMPTS} failed: {exc}; giving up")
            else:
                delay = self.retry_delays[min(note.attempts - 1, len(self.retry_delays) - 1)]
                note.next_try = time.time() + delay
                add_log(note.job_id, "warning", f"The {note.event} e-mail to {who}: attempt {note.attempts} of "
                                                f"{ATTEMPTS} failed: {exc}; trying again in {delay:g} s")
        except Exception as exc:  # never let a bug here reach the job or the loop
            log.exception("sending notification %s failed", note.id)
            note.status, note.last_error = "failed", f"internal error: {exc}"
            add_log(note.job_id, "error", f"The {note.event} e-mail to {who} was not sent: internal error: {exc}")
        else:
            note.status = "sent"
            accepted = [a for a in note.recipients if a not in refused]
            add_log(note.job_id, "info", f"The {note.event} e-mail was sent to {', '.join(accepted)}")
            for address, reason in refused.items():
                add_log(note.job_id, "warning", f"The {note.event} e-mail was refused for {address}: {reason}")
        finally:
            try:
                self.engine.history.update_notification(note)
            except Exception:
                log.exception("cannot record notification %s", note.id)
            else:
                if note.status != "pending":  # done with it: the outbox check need not name it any more
                    self._mine.discard(note.id)
            self._sending.pop(note.id, None)
            self._sending_job.pop(note.id, None)
            self.wake()
