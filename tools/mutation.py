#!/usr/bin/env python3
"""Mutation testing for the modules users trust most: would the tests notice if this line were wrong?

    .venv/bin/python tools/mutation.py GROUP [GROUP...]     # e.g. secrets, schedule; "all" for every group
    .venv/bin/python tools/mutation.py --list               # the groups, their modules and tests
    .venv/bin/python tools/mutation.py secrets --show 17    # what mutant 17 changes (a diff)
    .venv/bin/python tools/mutation.py secrets --only 17,18 # run just these mutants (or ranges: 5-9,17)

Each mutant is one small change to one line of a group's modules (mutmut's kind: ``==`` -> ``!=``, ``<`` -> ``<=``,
``and`` -> ``or``, ``+`` -> ``-``, a number + 1, ``True`` <-> ``False``, ``not x`` -> ``x``, ``return x`` ->
``return None``, ``x = ...`` -> ``x = None``, a call statement or ``raise`` -> ``pass``, ``break`` <-> ``continue``,
a short string (no spaces) -> ``"XX...XX"``). Strings with spaces are messages and are not mutated; docstrings,
imports, type annotations and f-strings neither; a line ending in ``# pragma: no mutate`` is skipped.

For each mutant only the group's tests run (``pytest -x``, with a time limit) in a copy of the project (the
working tree is never changed, the copy goes first on ``sys.path`` and ``PYTHONPATH`` so subprocesses run the
mutant too). A mutant is *killed* when a test fails or it runs out of time, *survived* when every test passes.
Survivors are listed with their line and change: add a test that kills each, or explain why it is equivalent.
Not part of CI: a group takes minutes (secrets ~5 min on two cores).
"""

from __future__ import annotations

import argparse
import ast
import compileall
import copy
import difflib
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: group -> (modules mutated, tests run for each mutant)
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    "secrets": (["kbc_tui/store/secrets.py"], ["tests/test_secrets_edges.py", "tests/test_secrets.py",
                                              "tests/test_masking.py"]),
    "schedule": (["kbc_tui/engine/schedule.py"], ["tests/test_schedule.py", "tests/test_cron_property.py",
                                                  "tests/test_schedule_edges.py"]),
    # test_cli_scheduler.py is left out: its daemons take ~110 s a run (a mutant would take minutes)
    "scheduler": (["kbc_tui/engine/scheduler.py"], ["tests/test_scheduler.py"]),
    # fast files first (pytest -x stops at the first failure); test_catch_state on PostgreSQL only: MariaDB
    # takes the same paths through the runner
    # test_incremental on SQLite only: the runner takes the same paths whatever the source database
    "runner": (["kbc_tui/engine/runner.py"], ["tests/test_job_log_lines.py", "tests/test_runner_edges.py",
                                              "tests/test_engine.py", "tests/test_catch_timing.py",
                                              "tests/test_state_failures.py",
                                              "tests/test_incremental.py::test_the_last_value_advances_on_every_run_"
                                              "and_no_row_is_duplicated[sqlite]",
                                              "tests/test_incremental.py::test_a_component_cannot_change_the_saved_"
                                              "state_behind_the_runner",
                                              *(f"tests/test_catch_state.py::test_a_task_failing_after_it_fetched_"
                                                f"keeps_the_state_and_the_next_run_fetches_again[postgresql-{e}]"
                                                for e in ("error", "error on every retry", "cancel", "timeout"))]),
    "notifier": (["kbc_tui/engine/notifier.py", "kbc_tui/engine/mail.py"], [
        "tests/test_notifier_mail.py", "tests/test_notifier_rules.py", "tests/test_notifier_edges.py", "tests/test_notifications.py", "tests/test_catch_notifications.py",
        "tests/test_masking.py::test_a_secret_echoed_by_a_peer_is_masked_everywhere_a_user_reads[env]",
        "tests/test_state_failures.py::test_a_job_ending_while_the_history_cannot_be_written_is_alerted_once_it_is"
        "_writable"]),
    "storage": (["kbc_tui/storage/duckdb_storage.py"],
                ["tests/test_storage_edges.py", "tests/test_catch_upsert.py::test_duckdb_storage_upserts_by_the_whole_"
                 "composite_key", *(f"tests/test_storage.py::{t}" for t in (
                     "test_replace_and_list", "test_incremental_upsert_by_primary_key",
                     "test_failed_write_leaves_previous_table", "test_cancel_mid_write_rolls_back",
                     "test_read_arrow_streams_batches", "test_bad_table_ids_and_missing_tables",
                     "test_another_process_holding_the_file_means_busy",
                     "test_staging_tables_of_a_killed_writer_are_swept")),  # not the 10 s reader-between-tasks one
                 "tests/test_leftovers.py", "tests/test_incremental.py",
                 "tests/test_path_confinement.py::test_a_sql_script_cannot_read_or_write_files_outside_the_project",
                 "tests/test_path_confinement.py::test_a_sql_script_still_reads_files_inside_the_project_and_absolute_"
                 "paths_still_load", "tests/test_catch_upsert.py::test_db_extractor_incremental_runs_upsert_by_the_"
                 "whole_composite_key"]),
    "toml": (["kbc_tui/store/toml_io.py"], ["tests/test_toml_io_edges.py", "tests/test_edit_toml_edges.py",
                                            "tests/test_lossless_save.py",
                                            "tests/test_store.py", "tests/test_atomic_write_modes.py",
                                            "tests/test_atomic_fsync.py",
                                            "tests/test_validate_bad_files.py", "tests/test_hostile_files.py",
                                            "tests/test_store_fuzz.py", "tests/test_validate_cli.py",
                                            "tests/test_private_state.py"]),  # fast first, the CLI ones last
}

#: mutants known to be equivalent (no test can tell them from the original), with why; matched on the module,
#: the stripped source line and the change, so they survive edits elsewhere. Reported apart, not as survivors.
_GUARD = "if guard > count * 50 + 1000:"
_WAL_CHECK = 'if wal.exists() and wal.stat().st_size or copy.with_name(copy.name + ".wal").exists():'
_NO_LOG = "a safety net: the CHECKPOINT and close just before leave no pending log, so the check never fires"
_NET = "a safety net check_cron makes unreachable (it refuses expressions that never fire)"
_RUNNER = "kbc_tui/engine/runner.py"
_NONE = "return x -> return None"
_UNUSED_LOG = "no shipped component calls ctx.log.debug/warning/error (only info): unreachable from a job"
_OUTCOME = 'run_task\'s outcome is only compared with "failed"; any other value means "not failed"'
#: runner.py: reason -> [(stripped line, change)]
_RUNNER_EQUIVALENT: dict[str, list[tuple[str, str]]] = {
    _UNUSED_LOG: [('self._run.log("debug", text, self._task)', "self._run.log('debug', text, self._task) -> pass"),
                  ('self._run.log("debug", text, self._task)', "'debug' -> 'XXdebugXX'"),
                  ('self._run.log("warning", text, self._task)',
                   "self._run.log('warning', text, self._task) -> pass"),
                  ('self._run.log("warning", text, self._task)', "'warning' -> 'XXwarningXX'"),
                  ('self._run.log("error", text, self._task)', "self._run.log('error', text, self._task) -> pass"),
                  ('self._run.log("error", text, self._task)', "'error' -> 'XXerrorXX'")],
    "cancel() sets the reason before it sets `cancelled`, and the reason is read only once cancelled":
        [('self.cancel_reason = "cancelled"', "'cancelled' -> 'XXcancelledXX'")],
    "callers only test `not self._record(...)`: None is as false as False": [("return False", _NONE)],
    "finish() has set and saved the job's status; what it returns only goes back through run(), which the "
    "engine does not read": [("return status", _NONE)],
    "every later phase meets the same condition (cancelled or error) and is skipped as well; nothing after the "
    "loop uses `position`": [("break", "break -> continue")],
    "run() sets started_at first, so a finishing job always has one":
        [("duration = (finished - self.job.started_at).total_seconds() if self.job.started_at else 0", "0 -> 1")],
    _OUTCOME: [('return "cancelled"', _NONE), ('return "cancelled"', "'cancelled' -> 'XXcancelledXX'"),
               ('return "skipped"', _NONE), ('return "skipped"', "'skipped' -> 'XXskippedXX'"),
               ('return "ok"', _NONE), ('return "ok"', "'ok' -> 'XXokXX'")],
    "_task_failed does not use its `started` argument":
        [('return self._task_failed(run, task, problem or "cannot run", started=False)', "False -> True"),
         ('return self._task_failed(run, task, f"cannot read its saved state: {exc}", started=False)',
          "False -> True"),
         ("def _task_failed(self, run: TaskRun, task: Task, message: str, started: bool = True) -> str:",
          "True -> False")],
    "an ended attempt's token left in the set: a later cancel cancels a token nobody listens to any more":
        [("self.tokens.discard(token)", "self.tokens.discard(token) -> pass")],
    "a finished component task left in the set: the hard cancel then cancels a task already done, a no-op":
        [("self.component_tasks.discard(job_task)", "self.component_tasks.discard(job_task) -> pass")],
    "not reached: every attempt returns or continues, and the last one cannot continue":
        [('return "failed"  # not reached', _NONE), ('return "failed"  # not reached', "'failed' -> 'XXfailedXX'"),
         # (the second 1: attempts + 2) an attempt past the last is never reached; (the first 1 is killed)
         ("for attempt in range(1, attempts + 1):", "1 -> 2")],
    "every shipped component returns a TaskResult with its rows and a non-empty message, so the other branch is "
    "never taken": [('+ (f", {rows:,} rows" if rows is not None else "")', "'' -> 'XXXX'"),
                    ('+ (f": {message}" if message else ""), task.ref)', "'' -> 'XXXX'"),
                    ('message = result.message if isinstance(result, TaskResult) else ""', "'' -> 'XXXX'")],
    "after a timeout the component ends by raising Cancelled (its token says 'timeout') or is hard-cancelled, and "
    "the handler below raises the same 'timed out' failure":
        [('raise _Failed(f"timed out after {task.timeout_minutes:g} min")', "raise -> pass")],
    "Cancelled reaches this handler only after the job was cancelled (a timeout raises its own failure above), "
    "so `not self.cancelled` is false whichever way the reason is compared":
        [('if token.reason == "timeout" and not self.cancelled:', "== -> !="),
         ('if token.reason == "timeout" and not self.cancelled:', "'timeout' -> 'XXtimeoutXX'"),
         ('raise _Failed(f"timed out after {task.timeout_minutes:g} min") from None', "raise -> pass")],
    "both times were set just before, so duration_s is never None (0.0 would need a zero-length task)":
        [("took = run.duration_s or 0", "0 -> 1")],
    "this handler is reached only after run.cancel() (the engine never cancels a job's coroutine itself) and never "
    "after a timeout (it raises its own failure above): the reason is not 'timeout' and `cancelled` is true, so "
    "both conditions are false":
        [('if token.reason == "timeout" and not self.cancelled:', "and -> or"),
         ('if token.reason == "timeout" and not self.cancelled:', "not x -> x")],
    "a timeout's reason is read only by the handler below, which a timeout never reaches (it raises 'timed out' "
    "above); a component's Cancelled(reason) text is not shown":
        [('token.cancel("timeout")', "'timeout' -> 'XXtimeoutXX'")],
    "load_spec gives every task either a configuration or a problem, never both nor neither, so `and` and `or` "
    "agree": [("if problem is None and cfg is not None:", "and -> or")],
    "the component's task is cancelled either way and ends at its next step (shipped components only await "
    "threads, which go on regardless); awaiting it only orders that before the failure is raised":
        [("await asyncio.wait({job_task})", "await asyncio.wait({job_task}) -> pass")],
}
_TOML = "kbc_tui/store/toml_io.py"
_COMMENT = 'if not stripped or stripped.startswith("#"):'
#: toml_io.py: reason -> [(stripped line, change)]
_TOML_EQUIVALENT: dict[str, list[tuple[str, str]]] = {
    "_write_bytes_atomic makes only os calls: it raises OSError, never FileWriteError (a re-raise is unreachable)":
        [("raise  # (already in words)", "raise -> pass")],
    "_locate's table is only tested for truth before a header sets it: None is as false as the empty string":
        [('table = ""', "x = ... -> x = None")],
    "a comment line matches neither the header nor the key pattern (both want [ or a key first): skipping it "
    "early only saves the two matches": [(_COMMENT, "or -> and"), (_COMMENT, "'#' -> 'XX#XX'")],
    "the fallback runs only when no key or header is a prefix of the path, so the one possible match for "
    "path[0] is exact": [('line = _locate(text, f"{key_path}[0]", exact_only=True)', "True -> False")],
    "the marker only has to be a key no entry of the file has; any odd name is as good":
        [('aligned.append({"\\0dropped": index})', "'\\x00dropped' -> 'XX\x00droppedXX'")],
    "tomlkit's items compare equal to the plain values they hold (Table/InlineTable are dicts, Array/AoT lists, "
    "scalars compare by value; a bool comes back plain), so comparing the item is comparing its value":
        [('return item.unwrap() if hasattr(item, "unwrap") else item', "'unwrap' -> 'XXunwrapXX'")],
    "the installed tomlkit (0.15) has these fields: the fallback for a tomlkit without them is not reached":
        [("return {}", _NONE)],
    "tomlkit (0.15) prints a blank line added to a table's own body after its sub-tables already, so walking "
    "down to the last sub-table first gives the same text":
        [("while True:  # the blank line goes after the last line the table prints: in its last sub-table",
          "True -> False"),
         ("last = next(reversed(list(leaf.value.body)), (None, None))[1] if leaf.value.body else None",
          "x = ... -> x = None")],
    "the indices compared are all different, and autojunk only drops items that recur (in lists of 200 or more)":
        [("ops = SequenceMatcher(None, list(range(n)), wanted, autojunk=False).get_opcodes()", "False -> True")],
    "with either one None the try below fails (None has no decode, None is not callable) and its except returns "
    "the same canonical bytes": [("if current is None or meaning is None:", "or -> and")],
}
EQUIVALENT: dict[tuple[str, str, str], str] = {
    ("kbc_tui/engine/schedule.py", "while high - low > timedelta(seconds=1):", "> -> >="):
        "one more halving: the result is cut to whole seconds and the jump is on a whole second",
    ("kbc_tui/engine/schedule.py", "middle = low + (high - low) / 2", "2 -> 3"):
        "a third instead of a half still narrows to the same second, only in more steps",
    ("kbc_tui/engine/schedule.py", "if middle.astimezone(tz).replace(tzinfo=None) >= wall:", ">= -> >"):
        "no instant has the local time of a wall time inside the gap, so == never holds",
    ("kbc_tui/engine/schedule.py", "def next_runs(schedule: Schedule, count: int = 5, after: datetime | None = None) "
                                   "-> list[datetime]:", "5 -> 6"):
        "every caller passes count",
    ("kbc_tui/engine/schedule.py", "start = after.astimezone(tz).replace(tzinfo=None) - timedelta(hours=3)",
     "3 -> 4"): "starting earlier only yields moments the `moment > after` filter drops",
    ("kbc_tui/engine/schedule.py", "guard = 0", "0 -> 1"): _NET,
    ("kbc_tui/store/secrets.py", "self._cipher(create=False)  # an invalid key is said as such", "False -> True"):
        "has_key() holds here, so _cipher never reaches the branch that creates a key",
    ("kbc_tui/store/secrets.py", "self._one_key_checked = True", "True -> False"):
        "the check is remembered only to save time: doing it again gives the same answer",
    ("kbc_tui/engine/schedule.py", "guard += 1", "+= -> -="): _NET,
    ("kbc_tui/engine/schedule.py", "guard += 1", "1 -> 2"): _NET,
    ("kbc_tui/engine/schedule.py", _GUARD, "> -> >="): _NET,
    ("kbc_tui/engine/schedule.py", _GUARD, "* -> /"): _NET,
    ("kbc_tui/engine/schedule.py", _GUARD, "50 -> 51"): _NET,
    ("kbc_tui/engine/schedule.py", _GUARD, "1000 -> 1001"): _NET,
    ("kbc_tui/engine/schedule.py", "break  # a safety net: check_cron refuses expressions that never fire",
     "break -> continue"): _NET,
    **{(_RUNNER, line, what): reason for reason, pairs in _RUNNER_EQUIVALENT.items() for line, what in pairs},
    ("kbc_tui/storage/duckdb_storage.py", "if time.monotonic() >= deadline:", ">= -> >"):
        "the clock landing exactly on the deadline only means one more 0.1 s try",
    ("kbc_tui/storage/duckdb_storage.py", "held.close()", "held.close() -> pass"):
        "the connection is dropped right after (`held` goes out of scope) and CPython closes it then",
    ("kbc_tui/storage/duckdb_storage.py", "return time.time() - self._read_wanted.stat().st_mtime < "
                                          "READER_WAIT_SECONDS", "< -> <="):
        "a note exactly 5.0 s old (to the float) is never seen",
    ("kbc_tui/storage/duckdb_storage.py", "con.unregister(\"__kbc_source\")", "con.unregister('__kbc_source') -> pass"):
        "a registration lives on its connection only, and the connection is closed right after the write",
    ("kbc_tui/storage/duckdb_storage.py", "con.unregister(\"__kbc_source\")", "'__kbc_source' -> 'XX__kbc_sourceXX'"):
        "unregistering an unknown name is a no-op, and the connection is closed right after the write",
    ("kbc_tui/storage/duckdb_storage.py", "rows = [0]", "0 -> 1"):
        "the fill always sets the count before the write returns; a failed fill raises",
    ("kbc_tui/storage/duckdb_storage.py", "remove()", "remove() -> pass"):
        "leaves a stale callback on the job's token: a later cancel interrupts a closed connection, which the "
        "token ignores (a small leak for the token's life, invisible through the API)",
    ("kbc_tui/storage/duckdb_storage.py", "if stale or schemas:", "or -> and"):
        "the CHECKPOINT only writes the drops out early: closing the database (it is not retained here) checkpoints",
    ("kbc_tui/storage/duckdb_storage.py", "con.execute(\"CHECKPOINT\")", "con.execute('CHECKPOINT') -> pass"):
        "(both: leftovers, compaction) the database is closed right after, not retained then, and closing checkpoints",
    ("kbc_tui/storage/duckdb_storage.py", "wal = self.path.with_name(self.path.name + \".wal\")",
     "'.wal' -> 'XX.walXX'"):
        "a safety net: the CHECKPOINT just before leaves no pending log, so the check never fires",
    ("kbc_tui/storage/duckdb_storage.py", "con.execute(\"DETACH __kbc_compact\")",
     "con.execute('DETACH __kbc_compact') -> pass"):
        "the connection is closed right after, which detaches (and checkpoints) the copy before it is synced",
    ("kbc_tui/storage/duckdb_storage.py", _WAL_CHECK, "or -> and"): _NO_LOG,
    ("kbc_tui/storage/duckdb_storage.py", "copy.unlink(missing_ok=True)", "True -> False"):
        "the copy was just listed by glob; only a concurrent delete in between would tell",
    ("kbc_tui/storage/duckdb_storage.py", "return max(0, size - self.file_size())", "0 -> 1"):
        "compaction runs only with over 8 MB free, so it frees more than 1 byte",
    ("kbc_tui/storage/duckdb_storage.py", _WAL_CHECK, "'.wal' -> 'XX.walXX'"): _NO_LOG,
    ("kbc_tui/storage/duckdb_storage.py", "raise OSError(\"a write-ahead log is pending\")  # never swap under "
                                          "unapplied changes", "raise -> pass"): _NO_LOG,
    # matched on text: tick()'s identical `self._heartbeat(now)` and the first `-` of the delay line are killed by
    # tests (test_the_heartbeat_is_written_every_10_s, test_failed_attempts_back_off_10_then_60_s_then_give_up)
    ("kbc_tui/engine/scheduler.py", 'ALIVE = "*"  # the schedule_state row that says until when a scheduler was '
                                    'running', "'*' -> 'XX*XX'"):
        "the key is only compared with itself; neither spelling can be an orchestration id",
    ("kbc_tui/engine/scheduler.py", "say: Callable[[str], None] | None = None, start_delay: float = 0.0) -> None:",
     "0.0 -> 1.0"): "the only caller (Engine) always passes start_delay",
    ("kbc_tui/engine/scheduler.py", 'self._task = asyncio.create_task(self._loop(), name="kbc-scheduler")',
     "'kbc-scheduler' -> 'XXkbc-schedulerXX'"): "a task name is only seen in debugging output",
    ("kbc_tui/engine/scheduler.py", "await asyncio.gather(self._task, return_exceptions=True)",
     "await asyncio.gather(self._task, return_exceptions -> pass"):
        "the cancelled task ends at its next await, before stop() gives the event loop back",
    ("kbc_tui/engine/scheduler.py", "runs = next_runs(orch.schedule, 1, after=after)", "1 -> 2"):
        "asks for two fire times and uses the first, the same one",
    ("kbc_tui/engine/scheduler.py", "self._heartbeat(now)", "self._heartbeat(now) -> pass"):
        "(in _catch_up) the first tick() right after writes the heartbeat at the same moment (none was written yet)",
    ("kbc_tui/engine/scheduler.py", "caught_up = False", "x = ... -> x = None"): "None is falsy like False",
    ("kbc_tui/engine/scheduler.py", "(self._last_heartbeat or now) + timedelta(seconds=HEARTBEAT_SECONDS)])",
     "or -> and"): "now + 10 s is never the deadline: the 5 s file check always wakes the loop sooner",
    ("kbc_tui/engine/scheduler.py", "latest = self._latest_due(orch, planned - timedelta(microseconds=1), now) "
                                    "or planned", "- -> +"):
        "the latest due time from just after `planned` is the same; when none, the fallback is `planned` itself",
    ("kbc_tui/engine/scheduler.py", "latest = self._latest_due(orch, planned - timedelta(microseconds=1), now) "
                                    "or planned", "1 -> 2"): "no fire time lies between planned - 2 us and planned",
    ("kbc_tui/engine/scheduler.py", "if job_id is not None:", "is not -> is"):
        "tick()'s list of job ids is read by no caller",
    ("kbc_tui/engine/scheduler.py", "jobs.append(job_id)", "jobs.append(job_id) -> pass"):
        "tick()'s list of job ids is read by no caller",
    ("kbc_tui/engine/scheduler.py", "return jobs", "return x -> return None"):
        "tick()'s list of job ids is read by no caller",
    ("kbc_tui/engine/scheduler.py", "return job.id", "return x -> return None"):
        "fire()'s job id only feeds tick()'s list, which no caller reads",
    ("kbc_tui/engine/scheduler.py", "batch = next_runs(orch.schedule, 100, after=after)", "100 -> 101"):
        "the batch size only changes how many fire times one step reads",
    ("kbc_tui/engine/scheduler.py", "after = batch[-1]", "1 -> 2"):
        "reading on from the last-but-one time re-reads one time already seen; the latest is the same",
    ("kbc_tui/storage/duckdb_storage.py", "return duckdb.Error", "return x -> return None"):
        "(duckdb_error) evaluated only when DROP SCHEMA ... CASCADE of a scratch schema fails, which nothing "
        "reachable makes it do: drop_leftovers runs with nothing else using the storage, and DuckDB drops a schema "
        "even under another connection's open write",
    **{("kbc_tui/engine/scheduler.py", line, what): "the reload counter is only compared for equality with its value "
       "taken before planning: any change on reload, from any start, tells the same"
       for line, what in (("self._reloads = 0  # a plan made in a thread is kept only if no reload came while it was "
                           "being made", "0 -> 1"), ("self._reloads += 1", "+= -> -="),
                          ("self._reloads += 1", "1 -> 2"))},
    ("kbc_tui/engine/scheduler.py", "reloads = self._reloads  # a reload while catching up: the plan made here is "
                                    "not kept", "x = ... -> x = None"):
        "the catch-up's plan is then never kept and the first step plans instead, from the same "
        "moment: the catch-up's heartbeat makes `since` that moment, so its plan starts where the catch-up's did "
        "(the clock cannot move in between: no await separates them)",
    ("kbc_tui/storage/duckdb_storage.py", "con.close()  # at the last batch, or when the reader is closed early",
     "con.close() -> pass"):
        "the generator's frame is released at that same moment, and with it the connection, which CPython closes "
        "then (a read failing half-way would keep it in its traceback, but a plain table scan does not fail)",
    ("kbc_tui/storage/duckdb_storage.py", 'pid = copy.name.rsplit("-", 1)[-1].split(".")[0]', "1 -> 2"):
        "the last piece of rsplit is the same whatever the number of splits",
    ("kbc_tui/storage/duckdb_storage.py", "os.fsync(fd)  # the copy's bytes on disk before it replaces the storage",
     "os.fsync(fd) -> pass"):
        "DuckDB fsyncs the copy itself when it checkpoints and detaches it, so "
        "its bytes are on disk either way (test_a_compacted_file_is_fsynced... sees DuckDB's fsync); the explicit "
        "one guards against a DuckDB that would not",
    ("kbc_tui/engine/notifier.py", 'self._loop_task = asyncio.create_task(self._deliver_loop(), name="kbc-notifier")',
     "'kbc-notifier' -> 'XXkbc-notifierXX'"): "a task name is only seen in debugging output",
    ("kbc_tui/engine/notifier.py", "self._stopping = True", "True -> False"):
        "stop() cancels the sender's loop right after, and it ends at its only await (wait_event re-raises a "
        "cancel): the flag is not read again",
    ("kbc_tui/engine/notifier.py", "self._timers.clear()", "self._timers.clear() -> pass"):
        "every timer was just cancelled, and a stopped notifier is not used again (Engine.start makes a new one)",
    ("kbc_tui/engine/notifier.py", "await asyncio.gather(self._loop_task, return_exceptions=True)",
     "await asyncio.gather(self._loop_task, return_excep -> pass"):
        "the cancelled loop ends at its next step (its only await re-raises the cancel) and does nothing on the way out",
    ("kbc_tui/engine/notifier.py", "raise", "raise -> pass"):
        "(the CancelledError of a send) only stop() cancels a send; it awaits the task ignoring how it ended, and the "
        "handler has already undone the attempt",
    ("kbc_tui/engine/mail.py", "return context", "return x -> return None"):
        "with verify = false aiosmtplib is also given validate_certs=False and builds the same unverified context",
    ("kbc_tui/engine/mail.py", "cause = exc.__cause__ or exc.__context__", "or -> and"):
        "aiosmtplib raises its errors `from` the exception it is handling: __cause__ and __context__ are the same",
    ("kbc_tui/engine/mail.py", 'detail = getattr(exc if isinstance(exc, ssl.SSLError) else cause, "verify_message", "")'
                               ' or str(cause or exc)', "'' -> 'XXXX'"):
        "an SSLCertVerificationError always has verify_message: the default is never used",
    ("kbc_tui/engine/mail.py", 'detail = getattr(exc if isinstance(exc, ssl.SSLError) else cause, "verify_message", "")'
                               ' or str(cause or exc)', "or -> and"):
        "(the second or; the first is killed) reached only when verify_message is empty, which an "
        "SSLCertVerificationError's never is",
    ("kbc_tui/engine/notifier.py", "timer = self._timers.pop(job_id, None)", "x = ... -> x = None"):
        "the timer of an ended job is left to fire: it finds the job no longer processing and sends nothing",
    ("kbc_tui/engine/notifier.py", "timer.cancel()", "timer.cancel() -> pass"):
        "(job_finished) the timer of an ended job finds it no longer processing and sends nothing; (stop) Engine.stop "
        "has ended the jobs before, and each ending job cancelled its own timer",
    ("kbc_tui/engine/notifier.py", "self._timers.pop(job.id, None)", "self._timers.pop(job.id, None) -> pass"):
        "the fired timer left in the dict is only cancelled later (job end, stop): a no-op on a finished task",
    ("kbc_tui/engine/mail.py", 'raise MailError("; ".join(f"{a} refused: {r}" for a, r in refused.items()))',
     "raise -> pass"): "the test e-mail has one recipient: send_mail raises when it is refused, so nothing is here",
    ("kbc_tui/engine/notifier.py", "await asyncio.gather(*self._sending.values(), return_exceptions=True)",
     "await asyncio.gather(*self._sending.values(), retu -> pass"):
        "the cancelled sends end at Engine.stop's next await and record the same (pending, the attempt undone); "
        "the 'not sent yet' lines depend only on which e-mails were tried",
    ("kbc_tui/engine/notifier.py", "return False", "return x -> return None"):
        "(_smtp_missing) None is falsy like False; the one caller only tests truth",
    ("kbc_tui/engine/notifier.py", "delay = self.retry_delays[min(note.attempts - 1, len(self.retry_delays) - 1)]",
     "- -> +"): "(the second -) with 3 attempts the index is at most 1, below both bounds",
    **{(_TOML, line, what): reason for reason, pairs in _TOML_EQUIVALENT.items() for line, what in pairs},
}

SWAP_COMPARE = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
                ast.GtE: ast.Gt, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
SWAP_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult,
              ast.Mod: ast.Div, ast.Pow: ast.Mult, ast.BitOr: ast.BitAnd, ast.BitAnd: ast.BitOr,
              ast.LShift: ast.RShift, ast.RShift: ast.LShift}
IGNORE = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", ".work", "*.pyc")


@dataclass
class Mutant:
    id: int
    module: str
    line: int
    what: str
    source: str  # the whole mutated module
    text: str = ""  # the original line, stripped

    @property
    def equivalent(self) -> str | None:
        return EQUIVALENT.get((self.module, self.text, self.what))


def _copy_node(node, **changes):
    new = copy.deepcopy(node)
    for key, value in changes.items():
        setattr(new, key, value)
    return new


class _Finder(ast.NodeVisitor):
    """Collects (node, replacement text, description) for every mutation of a module."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.found: list[tuple[ast.AST, str, str]] = []

    def add(self, node, replacement: str, what: str) -> None:
        if self.lines[node.lineno - 1].rstrip().endswith("# pragma: no mutate"):
            return
        self.found.append((node, replacement, what))

    # --- not mutated ---
    def visit_Import(self, node): pass
    def visit_ImportFrom(self, node): pass
    def visit_JoinedStr(self, node): pass

    def visit_arg(self, node): pass  # annotations

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.visit(node.value)

    def visit_FunctionDef(self, node):
        for decorator in node.decorator_list:
            self.visit(decorator)
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(default)
        self._body(node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._body(node.body)

    def visit_Module(self, node):
        self._body(node.body)

    def _body(self, body):
        for i, stmt in enumerate(body):
            if i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) \
                    and isinstance(stmt.value.value, str):
                continue  # docstring
            self.visit(stmt)

    def visit_If(self, node):
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        self.generic_visit(node)

    # --- mutated ---
    def visit_Compare(self, node):
        for i, op in enumerate(node.ops):
            swap = SWAP_COMPARE.get(type(op))
            if swap:
                ops = list(node.ops)
                ops[i] = swap()
                self.add(node, f"({ast.unparse(_copy_node(node, ops=ops))})",
                         f"{_op(node.ops[i])} -> {_op(ops[i])}")
        self.generic_visit(node)

    def visit_BinOp(self, node):
        swap = SWAP_BINOP.get(type(node.op))
        if swap:
            self.add(node, f"({ast.unparse(_copy_node(node, op=swap()))})", f"{_op(node.op)} -> {_op(swap())}")
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        swap = SWAP_BINOP.get(type(node.op))
        if swap:
            self.add(node, ast.unparse(_copy_node(node, op=swap())), f"{_op(node.op)}= -> {_op(swap())}=")
        self.generic_visit(node)

    def visit_BoolOp(self, node):
        swap = ast.Or if isinstance(node.op, ast.And) else ast.And
        self.add(node, f"({ast.unparse(_copy_node(node, op=swap()))})",
                 f"{'and' if swap is ast.Or else 'or'} -> {'or' if swap is ast.Or else 'and'}")
        self.generic_visit(node)

    def visit_UnaryOp(self, node):
        if isinstance(node.op, ast.Not):
            self.add(node, f"({ast.unparse(node.operand)})", "not x -> x")
        self.generic_visit(node)

    def visit_Constant(self, node):
        value = node.value
        if value is True or value is False:
            self.add(node, repr(not value), f"{value} -> {not value}")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self.add(node, repr(value + 1), f"{value!r} -> {value + 1!r}")
        elif isinstance(value, str) and not any(c.isspace() for c in value) and len(value) < 60:
            self.add(node, repr(f"XX{value}XX"), f"{value!r} -> 'XX{value}XX'")

    def visit_Return(self, node):
        if node.value is not None and not (isinstance(node.value, ast.Constant) and node.value.value is None):
            self.add(node, "return None", "return x -> return None")
        self.generic_visit(node)

    def visit_Assign(self, node):
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and not (isinstance(node.value, ast.Constant) and node.value.value is None) \
                and not node.targets[0].id.isupper():  # not module constants: their uses are mutated instead
            self.add(node, f"{node.targets[0].id} = None", "x = ... -> x = None")
        self.generic_visit(node)

    def visit_Expr(self, node):
        if isinstance(node.value, (ast.Call, ast.Await)):
            self.add(node, "pass", f"{ast.unparse(node.value)[:50]} -> pass")
        self.generic_visit(node)

    def visit_Raise(self, node):
        self.add(node, "pass", "raise -> pass")
        self.generic_visit(node)

    def visit_Break(self, node):
        self.add(node, "continue", "break -> continue")

    def visit_Continue(self, node):
        self.add(node, "break", "continue -> break")


def _op(op) -> str:
    return {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in",
            ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.Add: "+", ast.Sub: "-", ast.Mult: "*",
            ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**", ast.BitOr: "|", ast.BitAnd: "&",
            ast.LShift: "<<", ast.RShift: ">>"}[type(op)]


def _offset(lines: list[str], line: int, col: int) -> int:
    """Character offset of (1-based line, UTF-8 byte column)."""
    return sum(len(x) for x in lines[:line - 1]) + len(lines[line - 1].encode()[:col].decode())


def mutants(modules: list[str]) -> list[Mutant]:
    result: list[Mutant] = []
    for module in modules:
        text = (ROOT / module).read_text()
        lines = text.splitlines(keepends=True)
        finder = _Finder(text)
        finder.visit(ast.parse(text))
        seen = {text}
        for node, replacement, what in sorted(finder.found, key=lambda f: (f[0].lineno, f[0].col_offset)):
            start = _offset(lines, node.lineno, node.col_offset)
            end = _offset(lines, node.end_lineno, node.end_col_offset)
            source = text[:start] + replacement + text[end:]
            if source in seen:
                continue
            try:
                compile(source, module, "exec")
            except SyntaxError:
                continue
            seen.add(source)
            result.append(Mutant(len(result) + 1, module, node.lineno, what, source, lines[node.lineno - 1].strip()))
    return result


class Workspace:
    """A copy of the project where one module at a time is replaced by a mutant."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kbc-mutation-"))
        shutil.copytree(ROOT, self.dir, ignore=IGNORE, dirs_exist_ok=True)
        # compiled once, used unchecked: only the mutated module is compiled per run (and never cached)
        compileall.compile_dir(self.dir / "kbc_tui", quiet=1,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        self.env = {**os.environ, "PYTHONPATH": str(self.dir), "PYTHONDONTWRITEBYTECODE": "1"}

    def _drop_pyc(self, module: str) -> None:
        path = self.dir / module
        for pyc in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
            pyc.unlink()

    def run(self, tests: list[str], timeout: float, module: str | None = None, source: str | None = None):
        """('passed' | 'failed' | 'timeout', seconds, output tail)."""
        if module is not None:
            self._drop_pyc(module)
            (self.dir / module).write_text(source)
        started = time.monotonic()
        try:
            out = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                                  "-o", "addopts=", *tests], cwd=self.dir, env=self.env, capture_output=True,
                                 text=True, timeout=timeout)
            outcome = "passed" if out.returncode == 0 else "failed"
            tail = (out.stdout + out.stderr).strip().splitlines()[-3:]
            if out.returncode == 5:
                raise SystemExit(f"no tests collected from {tests}")
        except subprocess.TimeoutExpired:
            outcome, tail = "timeout", []
        finally:
            if module is not None:
                (self.dir / module).write_text((ROOT / module).read_text())
        return outcome, time.monotonic() - started, tail

    def check_isolation(self) -> None:
        where = subprocess.run([sys.executable, "-c", "import kbc_tui; print(kbc_tui.__file__)"], cwd=self.dir,
                               env=self.env, capture_output=True, text=True).stdout.strip()
        if not where.startswith(str(self.dir)):
            raise SystemExit(f"the copy is not the code under test (kbc_tui imports from {where})")

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def run_group(name: str, only: set[int] | None, jobs: int) -> tuple[int, int]:
    modules, tests = GROUPS[name]
    found = mutants(modules)
    if only:
        found = [m for m in found if m.id in only]
    workspaces = [Workspace() for _ in range(max(1, jobs))]
    try:
        workspaces[0].check_isolation()
        outcome, baseline, tail = workspaces[0].run(tests, timeout=1800)
        if outcome != "passed":
            raise SystemExit(f"[{name}] the tests fail without any mutant:\n" + "\n".join(tail))
        timeout = baseline * 3 + 15
        print(f"[{name}] {len(found)} mutants of {', '.join(modules)}; tests: {' '.join(tests)} "
              f"({baseline:.1f} s each, limit {timeout:.0f} s)", flush=True)
        free = list(workspaces)
        results: dict[int, str] = {}

        def one(m: Mutant) -> None:
            ws = free.pop()
            try:
                outcome, took, _ = ws.run(tests, timeout, m.module, m.source)
            finally:
                free.append(ws)
            results[m.id] = {"passed": "survived", "failed": "killed", "timeout": "timeout"}[outcome]
            mark = {"survived": "SURVIVED", "killed": "killed", "timeout": "killed (timeout)"}[results[m.id]]
            print(f"  #{m.id:<4} {m.module}:{m.line}: {m.what}  -> {mark} ({took:.1f} s)", flush=True)

        with ThreadPoolExecutor(len(workspaces)) as pool:
            list(pool.map(one, found))
    finally:
        for ws in workspaces:
            ws.remove()
    killed = sum(1 for r in results.values() if r != "survived")
    equivalent = [m for m in found if results.get(m.id) == "survived" and m.equivalent]
    survivors = [m for m in found if results.get(m.id) == "survived" and not m.equivalent]
    counted = len(found) - len(equivalent)
    print(f"[{name}] killed {killed}/{len(found)} ({100 * killed / max(1, len(found)):.1f} %), "
          f"{sum(1 for r in results.values() if r == 'timeout')} by timeout; {len(equivalent)} known equivalent; "
          f"score without them {killed}/{counted} ({100 * killed / max(1, counted):.1f} %); "
          f"survived {len(survivors)}")
    for m in equivalent:
        print(f"  equivalent #{m.id} {m.module}:{m.line}: {m.what}: {m.equivalent}")
    for m in survivors:
        print(f"  SURVIVED #{m.id} {m.module}:{m.line}: {m.what}    {m.text[:70]}")
    return killed, counted


def show(name: str, mutant_id: int) -> None:
    for m in mutants(GROUPS[name][0]):
        if m.id == mutant_id:
            original = (ROOT / m.module).read_text().splitlines(keepends=True)
            sys.stdout.writelines(difflib.unified_diff(original, m.source.splitlines(keepends=True),
                                                       f"a/{m.module}", f"b/{m.module}", n=2))
            return
    raise SystemExit(f"no mutant {mutant_id} in {name}")


def _ids(text: str) -> set[int]:
    """'1,2,5-9' -> {1, 2, 5, 6, 7, 8, 9}"""
    ids: set[int] = set()
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        ids.update(range(int(low), int(high or low) + 1))
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", help=f"one or more of: {', '.join(GROUPS)}, all")
    parser.add_argument("--list", action="store_true", help="list the groups (and mutant counts)")
    parser.add_argument("--show", type=int, metavar="N", help="print mutant N of the group as a diff")
    parser.add_argument("--only", metavar="N,M-K", help="run only these mutants (ranges included)")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="mutants run at once (default 1)")
    args = parser.parse_args(argv)
    if args.list or not args.groups:
        for name, (modules, tests) in GROUPS.items():
            print(f"{name:10} {len(mutants(modules)):4} mutants  {' '.join(modules)}  <-  {' '.join(tests)}")
        return 0
    names = list(GROUPS) if args.groups == ["all"] else args.groups
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        parser.error(f"unknown group {', '.join(unknown)}; groups: {', '.join(GROUPS)}")
    if args.show is not None:
        show(names[0], args.show)
        return 0
    only = _ids(args.only) if args.only else None
    total_killed = total = 0
    for name in names:
        killed, count = run_group(name, only, args.jobs)
        total_killed, total = total_killed + killed, total + count
    if len(names) > 1:
        print(f"all: killed {total_killed}/{total} ({100 * total_killed / max(1, total):.1f} %), "
              "known equivalents left out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
