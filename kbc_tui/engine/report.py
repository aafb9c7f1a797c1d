"""The e-mail about a job: subject, plain-text and HTML body (tasks, error, the failing task's last log lines).

Built from what the job history holds, which the runner has already masked; the text is passed through
a ``Masker`` once more (the SMTP password, any secret the caller knows) so no secret leaves in an e-mail.
"""

from __future__ import annotations

import html
import socket
from datetime import datetime

from kbc_tui.model.durations import duration
from kbc_tui.model.job import Job, LogLine, Notification, TaskRun, TaskStatus
from kbc_tui.model.text import one_line, printable
from kbc_tui.store.secrets import Masker

LOG_TAIL = 20
_FAILED = (TaskStatus.ERROR, TaskStatus.TERMINATED, TaskStatus.CANCELLED)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "-"


def _seconds(value: float | None) -> str:
    return duration(value) or "-"


def subject_for(job: Job, event: str, orch_name: str) -> str:
    orch_name = " ".join(orch_name.split())  # a header is one line
    if event == "processing":
        return f"[kbc-tui] Still running: {orch_name} — job {job.id} is taking longer than usual"
    return f"[kbc-tui] {job.status.value.capitalize()}: {orch_name} — job {job.id}"


def failing_task(tasks: list[TaskRun]) -> TaskRun | None:
    return next((t for t in tasks if t.status in _FAILED), None)


def log_tail(log: list[LogLine], task: TaskRun | None, n: int = LOG_TAIL) -> list[LogLine]:
    """The last ``n`` lines of the failing task (or of the whole job when no task failed)."""
    if task is not None:
        ref = f"{task.component}/{task.config}"
        mine = [line for line in log if line.task == ref]
        if mine:
            return mine[-n:]
    return log[-n:]


def job_report(job: Job, event: str, recipients: list[str], *, orch_name: str, project_name: str,
               project_root: str, log: list[LogLine], masker: Masker | None = None,
               running_for: float | None = None, average: float | None = None, tolerance: int | None = None
               ) -> Notification:
    """The notification for ``job`` and ``event`` (``processing``: pass running_for/average/tolerance)."""
    mask = masker or Masker()
    failed = failing_task(job.tasks)
    tail = log_tail(log, failed) if event != "processing" else log[-LOG_TAIL:]
    trigger = "scheduled" if job.trigger.value == "schedule" else f"run by {job.triggered_by or 'someone'}"
    duration = running_for if event == "processing" else job.duration_s
    facts = [
        ("Orchestration", f"{orch_name} ({job.orchestration})"),
        ("Job", f"{job.id} · {job.status.value} · {trigger}"),
        ("Started", _when(job.started_at)),
        ("Duration", _seconds(duration)),
        ("Project", f"{project_name} ({project_root}) on {socket.gethostname()}"),
    ]
    if event == "processing":
        facts.append(("Usual duration", f"{_seconds(average)} (average of the last 20 successful runs); "
                                        f"alert at +{tolerance} %"))
    error = job.message if event in ("error", "warning") else ""
    heading = (f"Job {job.id} of {orch_name} has been running for {_seconds(running_for)}, longer than usual."
               if event == "processing" else f"Job {job.id} of {orch_name} finished: {job.status.value}.")
    tail_title = (f"Last {len(tail)} log lines of {failed.component}/{failed.config}" if failed and event != "processing"
                  else f"Last {len(tail)} log lines")

    text = [heading, ""]
    text += [f"{k + ':':<16}{v}" for k, v in facts]
    if error:
        text += ["", f"Error: {error}"]
    if job.tasks:
        text += ["", "Tasks:"]
        for t in job.tasks:
            rows = f"{t.rows:,} rows" if t.rows is not None else ""
            text.append(f"  {t.status.value:<11}{t.component + '/' + t.config:<40}{_seconds(t.duration_s):>10}"
                        f"  {rows}".rstrip())
            if t.message and t.status is not TaskStatus.SUCCESS:
                text.append(f"  {'':<11}{t.message}")
    if tail:
        text += ["", tail_title + ":"]
        text += [f"  {line.time.strftime('%H:%M:%S')} {line.level:<7} {line.text}" for line in tail]
    text += ["", f"See it: kbc-tui job {job.id} --project {project_root}"]

    e = html.escape
    parts = [f"<p><b>{e(heading)}</b></p>", "<table>"]
    parts += [f"<tr><td><b>{e(k)}</b></td><td>{e(v)}</td></tr>" for k, v in facts]
    parts.append("</table>")
    if error:
        parts.append(f"<p style=\"color:#b00020\"><b>Error:</b> {e(error)}</p>")
    if job.tasks:
        parts.append("<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\"><tr><th>Status</th><th>Task</th>"
                     "<th>Duration</th><th>Rows</th><th>Message</th></tr>")
        for t in job.tasks:
            parts.append(f"<tr><td>{e(t.status.value)}</td><td>{e(t.component + '/' + t.config)}</td>"
                         f"<td>{e(_seconds(t.duration_s))}</td><td>{'' if t.rows is None else f'{t.rows:,}'}</td>"
                         f"<td>{e(t.message)}</td></tr>")
        parts.append("</table>")
    if tail:
        parts.append(f"<p><b>{e(tail_title)}</b></p><pre>")
        parts += [e(f"{line.time.strftime('%H:%M:%S')} {line.level:<7} {line.text}") for line in tail]
        parts.append("</pre>")
    parts.append(f"<p>See it: <code>kbc-tui job {job.id} --project {e(project_root)}</code></p>")

    # log lines and server messages may hold control characters: an escape sequence in an e-mail read in a
    # terminal mail client (mutt, mail) acts on that terminal, so they are made visible as on screen
    return Notification(job.id, event, list(recipients), one_line(mask(subject_for(job, event, orch_name))),
                        printable(mask("\n".join(text) + "\n")), printable(mask("\n".join(parts) + "\n")))
