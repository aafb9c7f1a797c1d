"""``sql-transformation`` with ``backend = "postgresql"``: the script runs inside the PostgreSQL storage database.

One connection, one transaction: a private scratch schema (``_kbc_tx_…``) first on the ``search_path``, input
tables as views there under the names the script uses, the script statement by statement, then every output
table moved out of the scratch schema into its bucket (a rename: no copy; a view's rows are copied) and swapped
in or upserted, the scratch schema dropped, and one commit: all outputs appear at once, or none (a failure or
a cancel rolls everything back). No row passes through kbc-tui. The session holds an advisory lock named after
the scratch schema, so ``drop_leftovers`` never touches a live one.
"""

from __future__ import annotations

import uuid

from kbc_tui.components.base import Cancelled, RunContext, TaskResult
from kbc_tui.errors import ComponentError, KbcError
from kbc_tui.storage.base import TableId
from kbc_tui.storage.pg_storage import SCRATCH_SCHEMA_PREFIX, qualified, quote

#: statements that would end the transaction the script runs in (its outputs must appear all at once)
TRANSACTION_WORDS = {"begin", "commit", "rollback", "start", "end", "abort", "savepoint", "release", "prepare"}


def run_in_postgres(ctx: RunContext) -> TaskResult:
    import psycopg

    storage = ctx.storage
    params = ctx.parameters
    inputs = params.get("input", [])
    outputs = params.get("output", [])
    statements = split_statements(params["script"])
    for n, statement in enumerate(statements, 1):
        word = first_word(statement)
        if word in TRANSACTION_WORDS:
            raise ComponentError(f"statement {n} ({word.upper()}): the script may not control transactions; "
                                 "kbc-tui runs it in one transaction so that its outputs appear all at once")
    workspace = f"{SCRATCH_SCHEMA_PREFIX}{ctx.job_id}_{uuid.uuid4().hex[:8]}"
    ws = quote(workspace)
    total_rows = 0
    with storage.session(ctx.cancel) as conn:
        try:
            storage.lock_scratch(conn, workspace)
            with conn.transaction():
                conn.execute(f"CREATE SCHEMA {ws}")
                conn.execute(f"SET LOCAL search_path = {ws}, public")
                for item in inputs:
                    source = TableId.parse(item["source"])
                    if not conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified(source),)).fetchone()[0]:
                        raise ComponentError(f"input table {source} does not exist in storage "
                                             "(run the extractor that fills it first)")
                    conn.execute(f"CREATE VIEW {ws}.{quote(item['destination'])} AS SELECT * FROM {qualified(source)}")
                ctx.log.info(f"Input mapping: {len(inputs)} table(s); running {len(statements)} statement(s) "
                             "in PostgreSQL")
                for n, statement in enumerate(statements, 1):
                    ctx.cancel.check()
                    try:
                        conn.execute(statement)
                    except psycopg.Error as exc:
                        if ctx.cancel.cancelled:
                            raise Cancelled(ctx.cancel.reason) from None
                        first = next((ln.strip() for ln in statement.strip().splitlines() if ln.strip()), "")
                        raise ComponentError(f"SQL error in statement {n} ({first[:80]!r}): "
                                             f"{_first_line(exc)}") from None
                staged = []
                for item in outputs:
                    ctx.cancel.check()
                    name = item["source"]
                    if not conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{ws}.{quote(name)}",)).fetchone()[0]:
                        raise ComponentError(f"output mapping: the script did not create table {name!r}")
                    try:
                        staged.append((item, storage.stage_relation(conn, TableId.parse(item["destination"]),
                                                                    f"{ws}.{quote(name)}",
                                                                    item.get("primary_key", []))))
                    except KbcError as exc:
                        raise ComponentError(f"output {name} -> {item['destination']}: {exc}") from None
                conn.execute(f"DROP SCHEMA {ws} CASCADE")  # the input views first: a swap may replace an input
                for item, stage in staged:
                    rows = storage.swap_staged(conn, stage, incremental=bool(item.get("incremental", False)))
                    total_rows += rows
                    ctx.log.info(f"Output {item['source']} -> {item['destination']}: {rows:,} rows"
                                 + (" (incremental)" if item.get("incremental") else ""))
                ctx.cancel.check()
        except (Cancelled, ComponentError):
            raise
        except psycopg.Error as exc:
            if ctx.cancel.cancelled:
                raise Cancelled(ctx.cancel.reason) from None
            raise ComponentError(storage.describe_error(exc, "the transformation in PostgreSQL failed")) from None
    return TaskResult(rows=total_rows, message=f"{len(outputs)} output table(s)")


def first_word(statement: str) -> str:
    import re

    m = re.match(r"\s*([A-Za-z]+)", strip_comments(statement))
    return m.group(1).lower() if m else ""


def strip_comments(sql: str) -> str:
    return "".join(part for part, kind in _tokens(sql) if kind != "comment")


def split_statements(script: str) -> list[str]:
    """A PostgreSQL script's statements, split at the semicolons outside quotes, dollar quotes and comments."""
    statements, current = [], []
    for part, kind in _tokens(script):
        if kind == "semicolon":
            text = "".join(current)
            if strip_comments(text).strip():
                statements.append(text.strip())
            current = []
        else:
            current.append(part)
    text = "".join(current)
    if strip_comments(text).strip():
        statements.append(text.strip())
    return statements


def _tokens(sql: str):
    """(text, kind) pieces of SQL: kind is "quoted", "comment", "semicolon" or "code"."""
    import re

    i, n = 0, len(sql)
    code_start = 0
    while i < n:
        c = sql[i]
        end = None
        kind = ""
        if c == "-" and sql.startswith("--", i):
            nl = sql.find("\n", i)
            end, kind = (n if nl < 0 else nl), "comment"
        elif c == "/" and sql.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            end, kind = j, "comment"
        elif c in ("'", '"'):
            j = i + 1
            backslash = c == "'" and i > 0 and sql[i - 1] in "eE" and (i < 2 or not (sql[i - 2].isalnum() or sql[i - 2] == "_"))
            while j < n:
                if backslash and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            end, kind = min(j + 1, n), "quoted"
        elif c == "$":
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", sql[i:])
            if m and not (i > 0 and (sql[i - 1].isalnum() or sql[i - 1] == "_")):
                tag = m.group(0)
                close = sql.find(tag, i + len(tag))
                end, kind = (n if close < 0 else close + len(tag)), "quoted"
        elif c == ";":
            end, kind = i + 1, "semicolon"
        if end is None:
            i += 1
            continue
        if code_start < i:
            yield sql[code_start:i], "code"
        yield sql[i:end], kind
        i = code_start = end
    if code_start < n:
        yield sql[code_start:], "code"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
