"""SQL databases through SQLAlchemy: URLs relative to the project, passwords from ``#password``,
and errors turned into one clear line (no traceback, password masked)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kbc_tui.errors import ComponentError

DRIVERS = ("sqlite", "postgresql", "postgresql+psycopg", "mysql+pymysql", "mariadb+pymysql")


class MixedColumn(ValueError):
    """A column's values do not all fit its one type (SQLite lets a column hold values of any type)."""

    def __init__(self, name: str, kinds: list[str], example: Any, type_name: str) -> None:
        self.name, self.kinds, self.example, self.type = name, kinds, example, type_name
        super().__init__(f"column {name!r} holds {' and '.join(kinds) or 'values'} (e.g. {example!r}), "
                         f"which do not all fit one type ({type_name})")


def _sqlite_file(u) -> str | None:
    """The file a parsed ``sqlite://`` url names, or None (another database, or in memory)."""
    if u.drivername.startswith("sqlite") and u.database and u.database != ":memory:":
        return u.database
    return None


def sqlite_path(url: str) -> str | None:
    """The file a ``sqlite://`` url names (relative: to the project folder), or None."""
    import sqlalchemy as sa

    try:
        return _sqlite_file(sa.engine.make_url(url))
    except Exception:
        return None  # reported by check_url


def make_url(url: str, password: str | None, project_root: Path):
    """The SQLAlchemy URL: ``#password`` filled in, a relative SQLite path made relative to the project
    (and refused when it leaves the project)."""
    import sqlalchemy as sa

    try:
        u = sa.engine.make_url(url)
    except Exception as exc:
        raise ComponentError(f"invalid database url {url!r}: {exc}") from None
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    elif u.drivername in ("mysql", "mariadb"):
        u = u.set(drivername=f"{u.drivername}+pymysql")
    if password and not u.password:
        u = u.set(password=password)
    if _sqlite_file(u):
        from kbc_tui.model.paths import OutsideProjectError, inside_project

        try:
            u = u.set(database=str(inside_project(project_root, u.database)))
        except OutsideProjectError as exc:
            raise ComponentError(f"parameters.url: {exc}") from None
    return u


def check_url(value: Any) -> str | None:
    import sqlalchemy as sa

    if not isinstance(value, str) or not value:
        return "a SQLAlchemy database url is required, e.g. 'postgresql+psycopg://user@host:5432/db'"
    try:
        u = sa.engine.make_url(value)
    except Exception as exc:
        return f"invalid database url: {exc}"
    if u.drivername not in DRIVERS and u.drivername not in ("mysql", "mariadb"):
        return f"unsupported database {u.drivername!r}; expected sqlite, postgresql+psycopg or mysql+pymysql"
    return None


def connection_paths(parameters: dict[str, Any]) -> list[tuple[str, str]]:
    """The SQLite file of a db-extractor / db-writer / gooddata-writer ``url``, for ``Component.paths``."""
    url = parameters.get("url")
    path = sqlite_path(url) if isinstance(url, str) else None
    return [("parameters.url", path)] if path else []


def check_connection_params(check: Any) -> None:
    """``url`` and ``#password`` of a db-extractor / db-writer config, checked on a ``ParamCheck``."""
    url = check.str("url", required=True)
    if url is not None:
        error = check_url(url)
        if error:
            check.add("url", error)
    check.str("#password")


def create_engine(url, *, for_sqlite_create: bool = False):
    import sqlalchemy as sa

    args: dict[str, Any] = {}
    if url.drivername.startswith(("postgresql", "mysql", "mariadb")):
        args["connect_args"] = {"connect_timeout": 10}
    if url.drivername.startswith(("mysql", "mariadb")) and url.password and not str(url.password).isascii():
        # PyMySQL sends a str password as latin-1: a non-ASCII one never matched (or failed to encode); the server
        # and the mysql client use UTF-8
        args["connect_args"]["password"] = str(url.password).encode("utf-8")
    if _sqlite_file(url):
        db = Path(url.database)
        if not for_sqlite_create and not db.exists():
            raise ComponentError(f"SQLite database {db} does not exist")
        db.parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(url, **args)


def describe_error(exc: BaseException, url) -> str:
    """One line a user can act on, for connection and query failures."""
    import sqlalchemy as sa

    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split())
    where = f"{url.drivername.split('+')[0]} at {url.host or url.database}" + (f":{url.port}" if url.port else "")
    low = text.lower()
    if isinstance(exc, sa.exc.OperationalError) or isinstance(exc, sa.exc.InterfaceError):
        if "password authentication failed" in low or "access denied" in low:
            return f"cannot log in to {where} as {url.username!r}: wrong user name or password"
        if "connection refused" in low or "can't connect" in low or "could not connect" in low \
                or "timeout" in low or "name or service not known" in low:
            return f"cannot connect to {where}: the server is unreachable ({text[:160]})"
        if "does not exist" in low and "database" in low or "unknown database" in low:
            return f"database {url.database!r} does not exist on {where}"
    if "no such table" in low or "undefinedtable" in type(orig).__name__.lower() or "doesn't exist" in low \
            or ("relation" in low and "does not exist" in low):
        return f"table not found in {where}: {text[:200]}"
    return f"{where}: {text[:300]}"


def query_interrupter(conn, engine) -> Any:
    """A function that stops the query running on SQLAlchemy connection ``conn`` from another thread (for a
    job's cancel: a query waiting on a lock never reaches the task's next cancel check)."""
    dbapi = conn.connection.dbapi_connection
    if hasattr(dbapi, "cancel") and engine.dialect.name == "postgresql":  # psycopg: a cancel request
        return dbapi.cancel
    if hasattr(dbapi, "thread_id") and engine.dialect.name in ("mysql", "mariadb"):
        thread_id = dbapi.thread_id()

        def kill() -> None:  # MySQL/MariaDB: KILL QUERY from a second connection
            import sqlalchemy as sa

            with engine.connect() as other:
                other.execute(sa.text(f"KILL QUERY {int(thread_id)}"))

        return kill
    return lambda: None  # SQLite: runs in this process, nothing waits on a server
