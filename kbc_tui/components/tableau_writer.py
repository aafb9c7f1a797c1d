"""``tableau-writer``: storage tables -> Tableau ``.hyper`` extracts (Tableau Hyper API), optionally
published to Tableau Server / Cloud through its REST API.

Each table streams from storage into an Arrow IPC file (Hyper's fastest input: faster than Parquet or CSV), and
Hyper, started meanwhile, builds the extract from it (``CREATE TABLE ... AS SELECT * FROM external(...)``),
keeping column types. The extract is written
to a temporary file and renamed over the old one (atomic). Hyper's logs go to ``.kbc/hyper/``.

Why a file and not rows streamed into Hyper while it loads (measured, tableauhyperapi 0.0.26963, 1M rows x 8
columns): Hyper maps an Arrow file into memory and reads its batches in parallel, so it cannot read a FIFO
(``COPY ... FROM '<fifo>'`` fails), and ``COPY ... FROM STDIN WITH (FORMAT arrowstream)`` fed from a FIFO by
the Hyper API's client (``hyper_execute_command_with_stdin_from_file``) or through libpq cost Hyper 15% more
CPU and took longer than export + file COPY (it parses the stream on one thread). Loading chunks while the
next is exported needs one COPY per chunk (an Arrow source is one file), and each extra COPY cost more than
the overlap saved (~0.1 s). The ``Inserter`` is 40x slower. The export already runs while Hyper starts, and
it takes about as long as Hyper's start, connection and CREATE.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from kbc_tui.components._params import ParamCheck, sub
from kbc_tui.components.base import Cancelled, Component, RunContext, TaskResult
from kbc_tui.errors import ComponentError, KbcError
from kbc_tui.storage.base import TableId
from kbc_tui.store.private import private_dir, tighten

REST_VERSION = "3.19"


class TableauWriter(Component):
    type_id = "tableau-writer"
    path_keys = ("output_dir",)

    def validate(self, parameters: dict[str, Any]) -> list[tuple[str, str]]:
        check = ParamCheck(parameters)
        check.str("output_dir", required=True)
        files = set()
        for prefix, item in check.tables("tables"):
            t = sub(check, prefix, item)
            source = t.table_id("source")
            file = t.str("file")
            if file is not None and (not file.endswith(".hyper") or "/" in file):
                t.add("file", "expected a file name ending in .hyper")
            name = file or (f"{source.rsplit('.', 1)[-1]}.hyper" if isinstance(source, str) else None)
            if name in files:
                t.add("file", f"two tables write the same file {name!r}")
            files.add(name)
            t.str("table_name")
            t.finish()
        publish = check.table("publish")
        if publish is not None:
            p = sub(check, "parameters.publish", publish)
            p.http_url("server_url")
            p.str("site")
            p.str("project")
            p.str("token_name", required=True)
            p.str("#token", required=True)
            p.str("mode", choices=("Overwrite", "CreateNew"))
            p.number("timeout_seconds", minimum=1)
            p.finish()
        return check.finish()

    async def run(self, ctx: RunContext) -> TaskResult:
        files, rows = await ctx.to_thread(self._write_all, ctx)
        publish = ctx.parameters.get("publish")
        if publish:
            from kbc_tui.components.tableau_publish import publish_all

            await publish_all(ctx, publish, files)
        return TaskResult(rows=rows, message=f"{len(files)} extract(s)" + (", published" if publish else ""))

    def _write_all(self, ctx: RunContext) -> tuple[list[Path], int]:
        from concurrent.futures import ThreadPoolExecutor

        params = ctx.parameters
        out_dir = ctx.resolve_path(params["output_dir"], "parameters.output_dir")
        out_dir.mkdir(parents=True, exist_ok=True)
        log_dir = private_dir(ctx.state_dir / "hyper")
        scratch = ctx.scratch_dir
        files, total = [], 0
        with ThreadPoolExecutor(2, thread_name_prefix="tableau-writer") as pool:
            starting = pool.submit(_start_hyper, log_dir)  # Hyper starts while the first table is exported
            try:
                for item in params["tables"]:
                    ctx.cancel.check()
                    target = out_dir / (item.get("file") or f"{TableId.parse(item['source']).name}.hyper")
                    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
                        data, columns = Path(tmp) / "table.arrow", Path(tmp) / "columns.parquet"
                        try:
                            reader = ctx.storage.read_arrow(item["source"])
                        except KbcError as exc:
                            raise ComponentError(str(exc)) from None
                        exporting = pool.submit(self._export, ctx, reader, data)  # while Hyper creates the table
                        try:
                            _columns_file(reader.schema, columns)
                            rows = self._load(ctx, pool, starting, item, exporting, data, columns, target)
                        finally:
                            exporting.exception()  # (wait for it: its file is in ``tmp``)
                    files.append(target)
                    total += rows
            finally:
                try:
                    starting.result().close()
                except Exception:  # it did not start: the loop has raised that already
                    pass
        for log in log_dir.iterdir():  # hyperd writes its logs with the umask's mode (the folder is 0700 meanwhile)
            tighten(log)
        return files, total

    @staticmethod
    def _export(ctx: RunContext, reader, path: Path) -> None:
        """The rows as an Arrow IPC file: Hyper's fastest input (no encoding, no compression)."""
        import pyarrow as pa

        schema = _hyper_schema(reader.schema)
        batches = _read_ahead(reader)
        try:
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
                for batch in batches:
                    ctx.cancel.check()
                    writer.write_batch(_hyper_batch(batch, schema))
        finally:
            batches.close()  # (waits for the batch being read)

    @staticmethod
    def _load(ctx: RunContext, pool, starting, item: dict, exporting, data: Path, columns: Path,
              target: Path) -> int:
        """Hyper creates the table (from ``columns``) while the rows are exported, then loads them (``data``), in a
        temporary file that replaces ``target`` (atomic).

        Removing files is slow on some file systems (freeing a 50 MB extract takes 0.1 s on ext4), so neither
        removal waits in line: the Arrow file goes (in ``pool``) while Hyper closes the extract, and the old
        extract keeps a second name (``aside``, recorded like the partial file) across the rename, so that
        the rename is instant and the old data is freed in ``pool`` while the job goes on (Hyper stops, the next
        table)."""
        from tableauhyperapi import Connection, CreateMode, HyperException, TableName, escape_string_literal

        table_name = item.get("table_name", "Extract")
        partial = ctx.partial_path(target)
        aside = None
        try:
            with Connection(starting.result().endpoint, str(partial), CreateMode.CREATE_AND_REPLACE) as conn:
                remove = ctx.cancel.on_cancel(conn.cancel)
                try:
                    conn.catalog.create_schema_if_not_exists("Extract")
                    name = TableName("Extract", table_name)
                    conn.execute_command(f"CREATE TABLE {name} AS (SELECT * FROM external("
                                         f"{escape_string_literal(str(columns))}, FORMAT => 'parquet'))")
                    exporting.result()
                    rows = conn.execute_command(f"COPY {name} FROM {escape_string_literal(str(data))} "
                                                "WITH (FORMAT arrowfile)")
                finally:
                    remove()
                dropping = pool.submit(_drop, data)  # read: it goes while Hyper closes (and syncs) the extract
            dropping.result()  # (before the scratch folder goes)
            aside = _set_aside(ctx, target)
            os.replace(partial, target)
        except HyperException as exc:
            partial.unlink(missing_ok=True)
            _drop(aside)
            if ctx.cancel.cancelled:
                raise Cancelled(ctx.cancel.reason) from None
            raise ComponentError(f"writing {target.name} failed: {str(exc).splitlines()[0]}") from None
        except BaseException:
            partial.unlink(missing_ok=True)
            _drop(aside)
            raise
        if aside is not None:
            pool.submit(_drop, aside)  # the old extract's data is freed meanwhile (the pool waits for it)
        ctx.log.info(f"{item['source']} -> {target}: {rows:,} rows")
        return rows


def _read_ahead(reader):
    """``reader``'s batches, the next one read (DuckDB making its Arrow arrays) in a thread while the caller
    writes this one: the export takes ~20% less time than reading and writing in turn."""
    from concurrent.futures import ThreadPoolExecutor

    batches = iter(reader)
    with ThreadPoolExecutor(1, thread_name_prefix="tableau-writer-read") as ahead:
        coming = ahead.submit(next, batches, None)
        while (batch := coming.result()) is not None:
            coming = ahead.submit(next, batches, None)
            yield batch


def _set_aside(ctx: RunContext, target: Path) -> Path | None:
    """A second name for the extract at ``target`` (none there, or no hard links: ``None``), recorded so that
    the next runner removes it if this process dies before it does."""
    if not target.exists():
        return None
    aside = ctx.partial_path(target.with_name(f"{target.name}.old"))
    try:
        aside.unlink(missing_ok=True)
        os.link(target, aside)
    except OSError:
        return None
    return aside


def _drop(path: Path | None) -> None:
    if path is not None:
        try:
            path.unlink(missing_ok=True)
        except OSError:  # recorded: the next runner removes it
            pass


def _columns_file(schema, path: Path) -> None:
    """The columns as an empty Parquet file: Hyper infers column types from Parquet (not from Arrow)."""
    import pyarrow.parquet as pq

    pq.write_table(_hyper_schema(schema).empty_table(), path)


def _start_hyper(log_dir: Path):
    from tableauhyperapi import HyperProcess, Telemetry

    return HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU,
                        parameters={"log_dir": str(log_dir), "default_database_version": "4"})


def _hyper_schema(schema):
    import pyarrow as pa

    return pa.schema([pa.field(f.name, _hyper_type(f.type)) for f in schema])


def _hyper_type(t):
    """Hyper reads most Arrow types; a few need widening (unsigned ints, nanoseconds, large strings)."""
    import pyarrow as pa

    if pa.types.is_unsigned_integer(t):
        return pa.int64()
    if pa.types.is_timestamp(t) and t.unit == "ns":
        return pa.timestamp("us", tz=t.tz)
    if pa.types.is_large_string(t):
        return pa.string()
    return t


def _hyper_batch(batch, schema):
    return batch if schema == batch.schema else batch.cast(schema)


COMPONENT = TableauWriter()
