"""Helpers for the multi-server benchmarks (``scale_out``, ``failover``): a PostgreSQL database of their own for the
job state, a project that waits in the database, one folder per simulated server, workers as processes."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from _common import ROOT

from kbc_tui.store.toml_io import dumps_toml

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def state_database(prefix: str):
    """A fresh PostgreSQL database; yields its URL (``postgresql+psycopg://…``), dropped after."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def waiting_project(root: Path, state_url: str, orchestrations: int, wait_seconds: float, *,
                    heartbeat_timeout: float | None = None) -> Path:
    """A project whose orchestrations ``o0``.. each run one db-extractor task that waits ``wait_seconds`` in
    PostgreSQL (``pg_sleep``) and stores the one row it returns."""
    root.mkdir(parents=True)
    state: dict = {"url": state_url}
    if heartbeat_timeout is not None:
        state["heartbeat_timeout"] = heartbeat_timeout
    (root / "kbc.toml").write_bytes(dumps_toml({"name": "servers benchmark", "state": state}))
    config = root / "components" / "db-extractor" / "wait.toml"
    config.parent.mkdir(parents=True)
    config.write_bytes(dumps_toml({"name": "wait in the database", "parameters": {
        "url": ADMIN.replace("postgresql://", "postgresql+psycopg://"),
        "tables": [{"name": "waited", "query": f"SELECT 1 AS x FROM pg_sleep({wait_seconds})",
                    "output": "in.c-bench.waited"}]}}))
    (root / "orchestrations").mkdir()
    for i in range(orchestrations):
        (root / "orchestrations" / f"o{i}.toml").write_bytes(dumps_toml({
            "name": f"o{i}", "phases": [{"tasks": [{"component": "db-extractor", "config": "wait"}]}]}))
    return root


def server_copies(template: Path, n: int) -> list[Path]:
    """``n`` servers: each its own copy of the project folder (its own checkout and storage)."""
    copies = []
    for i in range(n):
        target = template.parent / f"server-{i}"
        shutil.copytree(template, target, ignore=shutil.ignore_patterns(".kbc"))
        copies.append(target)
    return copies


def enqueue(root: Path, orchestrations: list[str]) -> list[int]:
    """Queue one job per item, as ``kbc-tui run --no-wait`` does (through the engine, in this process)."""
    from kbc_tui.engine import Engine

    async def go() -> list[int]:
        engine = Engine(root)
        try:
            return [(await engine.enqueue(o)).id for o in orchestrations]
        finally:
            await engine.stop()

    return asyncio.run(go())


def start_worker(root: Path, name: str, *extra: str) -> subprocess.Popen:
    log = open(root.parent / f"{name}.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "kbc_tui.cli", "worker", "--project", str(root), "--name", name,
                             *extra], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def state_of(url: str):
    from kbc_tui.store.pg_state import PgJobState

    return PgJobState(url)
