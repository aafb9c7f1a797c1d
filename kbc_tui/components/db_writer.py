"""``db-writer``: storage tables into a SQL database table (SQLite, PostgreSQL, MySQL/MariaDB).

Full load: the rows stream into ``<table>__kbc_new``, which then replaces the table in one step
(a transaction, or MySQL's atomic ``RENAME TABLE``): readers never see a half-loaded table and a
failure leaves the old one. Incremental: upsert by primary key (``ON CONFLICT`` / ``ON DUPLICATE KEY``).
"""

from __future__ import annotations

from typing import Any

from kbc_tui.components._params import ParamCheck, sub
from kbc_tui.components._sqldb import check_connection_params, connection_paths, create_engine, describe_error, make_url
from kbc_tui.components.base import Cancelled, Component, RunContext, TaskResult
from kbc_tui.errors import ComponentError, KbcError

BATCH_ROWS = 20_000


def validate_db_params(check: ParamCheck) -> None:
    check_connection_params(check)
    for prefix, item in check.tables("tables"):
        t = sub(check, prefix, item)
        t.table_id("source")
        t.str("table", required=True)
        t.bool("incremental")
        t.str_list("primary_key")
        if item.get("incremental") and not item.get("primary_key"):
            t.add("primary_key", "incremental loading needs a primary key to upsert by")
        t.finish()


def sa_type(arrow: Any, dialect: str, key: bool = False) -> Any:
    import pyarrow as pa
    import sqlalchemy as sa

    if pa.types.is_boolean(arrow):
        return sa.Boolean()
    if pa.types.is_int8(arrow) or pa.types.is_int16(arrow) or pa.types.is_uint8(arrow):
        return sa.SmallInteger()
    if pa.types.is_int32(arrow) or pa.types.is_uint16(arrow):
        return sa.Integer()
    if pa.types.is_integer(arrow):
        return sa.BigInteger()
    if pa.types.is_floating(arrow):
        return sa.Float(precision=53)
    if pa.types.is_decimal(arrow):
        return sa.Numeric(arrow.precision, arrow.scale)
    mysql = dialect.startswith(("mysql", "mariadb"))
    if pa.types.is_timestamp(arrow):
        if mysql:  # MySQL/MariaDB keep whole seconds unless told otherwise
            from sqlalchemy.dialects.mysql import DATETIME

            return DATETIME(fsp=6)
        return sa.DateTime(timezone=arrow.tz is not None)
    if pa.types.is_date(arrow):
        return sa.Date()
    if pa.types.is_time(arrow):
        if mysql:
            from sqlalchemy.dialects.mysql import TIME

            return TIME(fsp=6)
        return sa.Time()
    if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow):
        return sa.LargeBinary()
    if key and mysql:
        return sa.String(255)  # MySQL cannot index TEXT without a length
    return sa.Text()


def write_tables(ctx: RunContext, params: dict[str, Any]) -> tuple[int, int]:
    """Write every configured table; returns (tables, rows)."""
    url = make_url(params["url"], params.get("#password"), ctx.project_root)
    engine = create_engine(url, for_sqlite_create=True)
    total = 0
    try:
        for item in params["tables"]:
            ctx.cancel.check()
            total += _write(ctx, engine, url, item)
    finally:
        engine.dispose()
    return len(params["tables"]), total


def _write(ctx: RunContext, engine, url, item: dict) -> int:
    import sqlalchemy as sa

    dialect = engine.dialect.name
    schema, _, name = item["table"].rpartition(".")
    schema = schema or None
    pk = list(item.get("primary_key", []))
    incremental = bool(item.get("incremental"))
    try:
        reader = ctx.storage.read_arrow(item["source"], batch_size=BATCH_ROWS)
    except KbcError as exc:
        raise ComponentError(str(exc)) from None
    missing = [k for k in pk if k not in reader.schema.names]
    if missing:
        raise ComponentError(f"primary key column(s) {', '.join(missing)} not in {item['source']}")

    def table_def(table_name: str, meta: sa.MetaData) -> sa.Table:
        return sa.Table(table_name, meta, *[
            sa.Column(f.name, sa_type(f.type, dialect, key=f.name in pk), primary_key=f.name in pk,
                      nullable=f.name not in pk) for f in reader.schema], schema=schema)

    rows = 0
    try:
        if incremental:
            table = table_def(name, sa.MetaData())
            with engine.begin() as conn:
                table.create(conn, checkfirst=True)
                for batch in reader:
                    ctx.cancel.check()
                    data = batch.to_pylist()
                    if data:
                        conn.execute(_upsert(table, dialect, pk), data)
                        rows += len(data)
        else:
            staging = f"{name}__kbc_new"
            meta = sa.MetaData()
            table = table_def(staging, meta)
            with engine.begin() as conn:
                table.drop(conn, checkfirst=True)
                table.create(conn)
            try:
                with engine.begin() as conn:
                    for batch in reader:
                        ctx.cancel.check()
                        data = batch.to_pylist()
                        if data:
                            conn.execute(table.insert(), data)
                            rows += len(data)
                _swap(engine, dialect, schema, staging, name)
            except BaseException:
                with engine.begin() as conn:
                    table.drop(conn, checkfirst=True)
                raise
    except (Cancelled, ComponentError):
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise ComponentError(describe_error(exc, url)) from None
    where = f"{url.drivername.split('+')[0]} {item['table']}"
    ctx.log.info(f"{item['source']} -> {where}: {rows:,} rows ({'upsert' if incremental else 'replace'})")
    return rows


def _upsert(table, dialect: str, pk: list[str]):
    values = [c.name for c in table.columns if c.name not in pk]
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        stmt = insert(table)
        return stmt.on_conflict_do_update(index_elements=pk, set_={c: stmt.excluded[c] for c in values}) \
            if values else stmt.on_conflict_do_nothing(index_elements=pk)
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert

        stmt = insert(table)
        return stmt.on_conflict_do_update(index_elements=pk, set_={c: stmt.excluded[c] for c in values}) \
            if values else stmt.on_conflict_do_nothing(index_elements=pk)
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert

        stmt = insert(table)
        return stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in (values or pk)})
    raise ComponentError(f"incremental loading is not supported for {dialect}")


def _swap(engine, dialect: str, schema: str | None, staging: str, name: str) -> None:
    import sqlalchemy as sa

    prep = engine.dialect.identifier_preparer

    def q(table: str) -> str:
        return (prep.quote_schema(schema) + "." if schema else "") + prep.quote(table)

    exists = sa.inspect(engine).has_table(name, schema=schema)
    with engine.begin() as conn:
        if dialect in ("mysql", "mariadb"):
            if exists:
                old = f"{name}__kbc_old"
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {q(old)}"))
                conn.execute(sa.text(f"RENAME TABLE {q(name)} TO {q(old)}, {q(staging)} TO {q(name)}"))
                conn.execute(sa.text(f"DROP TABLE {q(old)}"))
            else:
                conn.execute(sa.text(f"RENAME TABLE {q(staging)} TO {q(name)}"))
        else:
            if exists:
                conn.execute(sa.text(f"DROP TABLE {q(name)}"))
            conn.execute(sa.text(f"ALTER TABLE {q(staging)} RENAME TO {prep.quote(name)}"))


class DbWriter(Component):
    type_id = "db-writer"
    paths = staticmethod(connection_paths)  # a SQLite file

    def validate(self, parameters: dict[str, Any]) -> list[tuple[str, str]]:
        check = ParamCheck(parameters)
        validate_db_params(check)
        return check.finish()

    async def run(self, ctx: RunContext) -> TaskResult:
        tables, rows = await ctx.to_thread(write_tables, ctx, ctx.parameters)
        return TaskResult(rows=rows, message=f"{tables} table(s)")


COMPONENT = DbWriter()
