"""extract_mariadb_memory: peak RSS (MB) of a `kbc-tui run` process extracting 5,000,000 rows x 10 mixed columns
from MariaDB into storage (the child's ru_maxrss). No goal of its own; the rows stream in 10,000-row Arrow batches
(reading alone peaks at ~130 MB for any size); what grows with the table is DuckDB's side of the write, up to
storage's ``memory_limit`` (256MB by default). ``python benchmarks/run.py extract_mariadb_memory [ROWS] [--generic]``
(``--generic``: the SQLAlchemy row path). An absolute figure, no baseline.
"""

from __future__ import annotations

from _common import MYSQL_URL, drop_mysql_table, make_mysql_table
from bench_extract_pg_memory import measure


def main(argv: list[str]) -> tuple[float, str]:
    return measure(argv, MYSQL_URL, make_mysql_table, drop_mysql_table)
