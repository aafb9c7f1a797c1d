"""``sql-transformation``: a SQL script over storage tables.

Input mapping makes storage tables visible under the names the script uses; the script runs
statement by statement; output mapping stores the chosen result tables (full or incremental
upsert by primary key). A cancel interrupts the running statement. ``backend`` says where the script runs:

- ``"duckdb"`` (default, DuckDB SQL): on DuckDB storage the script runs on a storage connection inside a
  private scratch schema (dropped afterwards), where input tables are views; on PostgreSQL storage the input
  tables are loaded into an in-process DuckDB (confined to the project like the storage's) and the script runs
  there. Result tables are written through ``storage.write_arrow`` (atomic per table).
- ``"postgresql"`` (PostgreSQL SQL, only with PostgreSQL storage): the script runs inside the storage database,
  in one transaction, in a private scratch schema where input tables are views; the result tables are then
  moved (not copied) into their buckets and swapped in, all outputs at once; no row passes through kbc-tui.
"""

from __future__ import annotations

from typing import Any

from kbc_tui.components.base import Cancelled, Component, RunContext, TaskResult
from kbc_tui.errors import ComponentError, KbcError
from kbc_tui.storage.base import TableId, check_table_id
from kbc_tui.storage.duckdb_storage import SCRATCH_SCHEMA_PREFIX, qualified, quote

_NAME_OK = "letters, digits and '_', not starting with a digit"
BACKENDS = ("duckdb", "postgresql")


def _check_name(value: Any) -> str | None:
    if not isinstance(value, str) or not value or not (value[0].isalpha() or value[0] == "_") \
            or not all(c.isalnum() or c == "_" for c in value):
        return f"expected a table name of {_NAME_OK}, got {value!r}"
    return None


class SqlTransformation(Component):
    type_id = "sql-transformation"

    def validate(self, parameters: dict[str, Any]) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        known = {"script", "input", "output", "backend"}
        for key in parameters:
            if key not in known:
                problems.append((f"parameters.{key}", "unknown key (expected script, input, output, backend)"))
        if parameters.get("backend", "duckdb") not in BACKENDS:
            problems.append(("parameters.backend", f"expected \"duckdb\" or \"postgresql\", got "
                                                   f"{parameters.get('backend')!r}"))
        script = parameters.get("script")
        if not isinstance(script, str) or not script.strip():
            problems.append(("parameters.script", "a SQL script is required"))
        for section, fields in (("input", ("source", "destination")),
                                ("output", ("source", "destination", "primary_key", "incremental"))):
            items = parameters.get(section, [])
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                problems.append((f"parameters.{section}", f"expected an array of tables ([[parameters.{section}]])"))
                continue
            for i, item in enumerate(items):
                prefix = f"parameters.{section}[{i}]"
                for key in item:
                    if key not in fields:
                        problems.append((f"{prefix}.{key}", f"unknown key (expected {', '.join(fields)})"))
                table_key, name_key = ("source", "destination") if section == "input" else ("destination", "source")
                error = check_table_id(item.get(table_key))
                if error:
                    problems.append((f"{prefix}.{table_key}", error))
                error = _check_name(item.get(name_key))
                if error:
                    problems.append((f"{prefix}.{name_key}", error))
                if section == "output":
                    pk = item.get("primary_key", [])
                    if not isinstance(pk, list) or not all(isinstance(k, str) for k in pk):
                        problems.append((f"{prefix}.primary_key", "expected an array of column names"))
                    if not isinstance(item.get("incremental", False), bool):
                        problems.append((f"{prefix}.incremental", "expected true or false"))
                    if item.get("incremental") and not pk:
                        problems.append((f"{prefix}.primary_key", "an incremental output needs a primary key"))
        if not parameters.get("output"):
            problems.append(("parameters.output", "at least one output table is required"))
        return problems

    async def run(self, ctx: RunContext) -> TaskResult:
        return await ctx.to_thread(self._run, ctx)

    def _run(self, ctx: RunContext) -> TaskResult:
        backend = ctx.parameters.get("backend", "duckdb")
        kind = getattr(ctx.storage, "kind", "duckdb")
        if backend == "postgresql":
            if kind != "postgresql":
                raise ComponentError('backend = "postgresql" runs the script inside PostgreSQL storage, but this '
                                     "project's storage is the DuckDB file: set [storage] url in kbc.toml, or use "
                                     'backend = "duckdb" (the default)')
            from kbc_tui.components._pg_transformation import run_in_postgres

            return run_in_postgres(ctx)
        if kind != "duckdb":
            return self._run_loaded(ctx)
        return self._run_in_storage(ctx)

    def _run_in_storage(self, ctx: RunContext) -> TaskResult:
        """DuckDB storage: the script runs on a storage connection; input tables are views of storage's."""
        import duckdb

        params = ctx.parameters
        inputs = params.get("input", [])
        outputs = params.get("output", [])
        workspace = f"{SCRATCH_SCHEMA_PREFIX}{ctx.job_id}_{id(ctx) & 0xFFFFFF:x}"
        statements = _split(params["script"])
        total_rows = 0
        with ctx.storage.connect() as con:
            remove = ctx.cancel.on_cancel(con.interrupt)
            try:
                con.execute(f"CREATE SCHEMA {quote(workspace)}")
                con.execute(f"SET schema = {_lit(workspace)}")
                con.execute(f"SET search_path = {_lit(workspace)}")
                for item in inputs:
                    source = TableId.parse(item["source"])
                    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND "
                                         "table_name = ?", [source.bucket_id, source.name]).fetchall()[0][0]
                    if not exists:
                        raise ComponentError(f"input table {source} does not exist in storage "
                                             "(run the extractor that fills it first)")
                    con.execute(f"CREATE VIEW {quote(workspace)}.{quote(item['destination'])} AS "
                                f"SELECT * FROM {qualified(source)}")
                ctx.log.info(f"Input mapping: {len(inputs)} table(s); running {len(statements)} statement(s)")
                _run_statements(con, statements, ctx)
                total_rows += _write_outputs(con, outputs, ctx, workspace)
            finally:
                remove()
                try:
                    con.execute(f"DROP SCHEMA IF EXISTS {quote(workspace)} CASCADE")
                except duckdb.Error:
                    pass
        return TaskResult(rows=total_rows, message=f"{len(outputs)} output table(s)")

    def _run_loaded(self, ctx: RunContext) -> TaskResult:
        """Another storage (PostgreSQL): input tables are streamed into an in-process DuckDB (confined, spilling
        to the scratch folder), the script runs there, outputs are written back with ``write_arrow``."""
        import duckdb

        params = ctx.parameters
        inputs = params.get("input", [])
        outputs = params.get("output", [])
        statements = _split(params["script"])
        total_rows = 0
        with ctx.storage.connect() as con:
            remove = ctx.cancel.on_cancel(con.interrupt)
            try:
                for item in inputs:
                    ctx.cancel.check()
                    source = TableId.parse(item["source"])
                    try:
                        reader = ctx.storage.read_arrow(source)
                    except KbcError:
                        if ctx.storage.table(source) is None:
                            raise ComponentError(f"input table {source} does not exist in storage "
                                                 "(run the extractor that fills it first)") from None
                        raise
                    try:
                        con.register("__kbc_input", reader)
                        con.execute(f"CREATE TABLE {quote(item['destination'])} AS SELECT * FROM __kbc_input")
                    except duckdb.Error:
                        if ctx.cancel.cancelled:
                            raise Cancelled(ctx.cancel.reason) from None
                        raise
                    finally:
                        con.unregister("__kbc_input")
                        reader.close()
                ctx.log.info(f"Input mapping: {len(inputs)} table(s) loaded into DuckDB; "
                             f"running {len(statements)} statement(s)")
                _run_statements(con, statements, ctx)
                total_rows += _write_outputs(con, outputs, ctx, "main")
            finally:
                remove()
        return TaskResult(rows=total_rows, message=f"{len(outputs)} output table(s)")


def _run_statements(con: Any, statements: list[str], ctx: RunContext) -> None:
    """The script's statements in order on a DuckDB connection; a cancel ends it ``Cancelled``, an error says which
    statement failed and why (``ComponentError``)."""
    import duckdb

    for n, statement in enumerate(statements, 1):
        ctx.cancel.check()
        try:
            con.execute(statement)
        except duckdb.InterruptException:
            raise Cancelled(ctx.cancel.reason) from None
        except duckdb.Error as exc:
            if ctx.cancel.cancelled:
                raise Cancelled(ctx.cancel.reason) from None
            first = next((ln.strip() for ln in statement.strip().splitlines() if ln.strip()), "")
            hint = (" (a script reads and writes files only inside the project folder)"
                    if isinstance(exc, duckdb.PermissionException) else "")
            raise ComponentError(f"SQL error in statement {n} ({first[:80]!r}): "
                                 f"{str(exc).splitlines()[0]}{hint}") from None


def _write_outputs(con: Any, outputs: list[dict], ctx: RunContext, schema: str) -> int:
    """The output mapping: each table the script made in ``schema`` of the DuckDB connection, streamed into its
    storage destination (atomic per table); returns the rows written."""
    total = 0
    for item in outputs:
        ctx.cancel.check()
        name = item["source"]
        exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                             [schema, name]).fetchall()[0][0]
        if not exists:
            raise ComponentError(f"output mapping: the script did not create table {name!r}")
        reader = con.sql(f"SELECT * FROM {quote(schema)}.{quote(name)}").to_arrow_reader(100_000)
        rows = ctx.storage.write_arrow(item["destination"], reader, incremental=bool(item.get("incremental", False)),
                                       primary_key=item.get("primary_key", []), cancel=ctx.cancel)
        total += rows
        ctx.log.info(f"Output {name} -> {item['destination']}: {rows:,} rows"
                     + (" (incremental)" if item.get("incremental") else ""))
    return total


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _split(script: str) -> list[str]:
    """Statements of a script, split by DuckDB's own parser (falls back to the whole script)."""
    import duckdb

    try:
        return [str(s.query) if hasattr(s, "query") else str(s) for s in duckdb.extract_statements(script)]
    except duckdb.Error:
        return [script]  # a syntax error: let execution report it with DuckDB's message


COMPONENT = SqlTransformation()
