"""Run a command's coroutine and end the process even if a task's worker thread is stuck.

A job's blocking work runs in worker threads; cancelling a job stops them at their next check, but a
driver call that never returns (a query waiting on a lock, a server that stopped answering) would keep
``asyncio.run`` — and the interpreter's exit, which joins worker threads — waiting forever. The job is
already recorded as cancelled by then, so the process says which work is still busy and exits anyway.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any, Coroutine

from kbc_tui.errors import KbcError

#: how long finished commands wait for worker threads to end on their own
THREAD_GRACE_SECONDS = 2.0


def run_until_done(main: Coroutine[Any, Any, int]) -> int:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stuck = False
    code = 1
    try:
        code = loop.run_until_complete(main)
    finally:
        _cancel_all(loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
        try:  # idle worker threads end at once; a busy one gets a moment
            loop.run_until_complete(asyncio.wait_for(loop.shutdown_default_executor(), THREAD_GRACE_SECONDS))
        except asyncio.TimeoutError:
            stuck = True
        asyncio.set_event_loop(None)
        loop.close()
        if stuck:  # also when ``main`` raised: say it here, the interpreter's exit would wait forever
            error = sys.exc_info()[1]
            if error is not None:
                words = str(error) if isinstance(error, KbcError) else f"internal error: {type(error).__name__}: {error}"
                print(f"kbc-tui: {words}", file=sys.stderr)
            print("kbc-tui: the work of a cancelled task did not stop (e.g. a database query that does not "
                  "answer); exiting without it", file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(1 if error is not None else code)
    return code


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
