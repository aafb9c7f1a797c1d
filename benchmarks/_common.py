"""Helpers shared by benchmarks: a temporary project, running one component configuration, peak RSS."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers.components import run_config, write_config  # noqa: E402,F401
from tests.helpers.projects import project  # noqa: E402,F401

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

MIXED_10 = ("g AS id, (g % 32000)::smallint AS small, g::bigint * 1000 AS big, (g * 1.25)::numeric(14,2) AS amount, "
            "g / 7.0::float8 AS ratio, (g % 2 = 0) AS flag, date '2020-01-01' + (g % 2000) AS day, "
            "timestamp '2026-01-01' + g * interval '1 second' AS at, "
            "timestamptz '2026-01-01 00:00+00' + g * interval '1 second' AS at_tz, 'customer ' || g AS label")


def make_pg_table(name: str, rows: int) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(f"CREATE TABLE {name} AS SELECT {MIXED_10} FROM generate_series(1, {rows}) g")


def drop_pg_table(name: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
