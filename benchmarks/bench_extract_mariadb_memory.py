"""extract_mariadb_memory: peak RSS (MB) of a `kbc-tui run` process extracting 5,000,000 rows x 10 mixed columns
from MariaDB into storage (the child's ru_maxrss). No goal of its own: kept under extract_pg_memory's 300 MB, with
storage's default ``memory_limit`` (256MB). ``python benchmarks/run.py extract_mariadb_memory [ROWS] [--generic]`` (``--generic``: the
SQLAlchemy row path). An absolute figure, no baseline: run it with 1,000,000 rows too to see that memory does not
grow with the table.
"""

from __future__ import annotations

from _common import MYSQL_URL, drop_mysql_table, make_mysql_table
from bench_extract_pg_memory import measure


def main(argv: list[str]) -> tuple[float, str]:
    return measure(argv, MYSQL_URL, make_mysql_table, drop_mysql_table)
