"""Loading a CSV file into storage (shared by the sheet extractor and the manual upload).

Columns are loaded as text, as Keboola does; names are sanitized Keboola's way: every character
other than a letter, digit or underscore becomes ``_``, leading/trailing ``_`` are trimmed, an empty
name becomes ``col_<n>``, duplicates get ``_2``, ``_3``… Renames are logged.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any, Iterable

from kbc_tui.components.base import RunContext
from kbc_tui.errors import ComponentError, KbcError

_BAD = re.compile(r"[^A-Za-z0-9_]+")


def sanitize(names: list[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(names, 1):
        name = _BAD.sub("_", raw.strip()).strip("_") or f"col_{i}"
        if name[0].isdigit():
            name = f"c_{name}"
        base, n = name, 1
        while name.lower() in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name.lower())
        out.append(name)
    return out


def load_csv(ctx: RunContext, path: Path, *, output: str, header: int = 1, delimiter: str = ",",
             primary_key: list[str] | None = None, incremental: bool = False, source: str = "") -> int:
    """Load a UTF-8 CSV file into a storage table (all columns text); returns rows written."""
    with path.open(newline="", encoding="utf-8") as fh:
        names = column_names(ctx, head_rows(fh, header, delimiter), header, primary_key, source or str(path))
    options = dict(output=output, primary_key=primary_key, incremental=incremental, source=source or str(path))
    if ctx.storage.may_read(path):
        return load_select(ctx, csv_select(path, names, header, delimiter), **options)
    # outside the folders DuckDB may open (the project and its state): kbc-tui reads the file and hands
    # DuckDB its bytes through a pipe in the scratch folder, as it does with a download
    from kbc_tui.components._feed import CSV_BUFFER, Feed

    def copy(feed: Feed) -> None:
        out = feed.open()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                feed.check()
                out.write(chunk)

    with Feed(ctx.scratch_dir) as feed:
        feed.start(copy)
        return feed.load(load_select, ctx, csv_select(feed.path, names, header, delimiter, CSV_BUFFER),
                         inspect=feed.inspect(), **options)


def head_rows(lines: Iterable[str], header: int, delimiter: str) -> list[list[str]]:
    """The file's first ``max(header, 1)`` records (fewer if it has fewer)."""
    reader = csv.reader(lines, delimiter=delimiter)
    rows = [next(reader, None) for _ in range(max(header, 1))]
    return [r for r in rows if r is not None]


def column_names(ctx: RunContext, rows: list[list[str]], header: int, primary_key: list[str] | None,
                 source: str) -> list[str]:
    """Keboola-style column names from the head rows (``col_<n>`` without a header); renames are logged."""
    if not rows:
        raise ComponentError(f"{source}: the file is empty")
    raw_names = rows[-1] if header else [f"col_{i}" for i in range(1, len(rows[0]) + 1)]
    names = sanitize(raw_names)
    for old, new in zip(raw_names, names):
        if old != new:
            ctx.log.info(f"column {old!r} renamed to {new!r}")
    missing = [k for k in primary_key or [] if k not in names]
    if missing:
        raise ComponentError(f"primary key column(s) {', '.join(missing)} not in the file's columns: {', '.join(names)}")
    return names


def csv_select(path: Path, names: list[str], header: int, delimiter: str, buffer: int | None = None) -> str:
    """DuckDB's ``SELECT`` reading the file (or pipe) as text columns; ``buffer``: CSV buffer size in bytes."""
    columns = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in names) + "}"
    return (f"SELECT * FROM read_csv({_lit(str(path))}, header = false, skip = {int(header)}, "
            f"delim = {_lit(delimiter)}, quote = '\"', escape = '\"', columns = {columns}, "
            "allow_quoted_nulls = false, null_padding = true, auto_detect = false"
            + (f", buffer_size = {int(buffer)})" if buffer else ")"))


def load_select(ctx: RunContext, sql: str, *, output: str, primary_key: list[str] | None, incremental: bool,
                source: str, inspect: Any = None) -> int:
    try:
        return ctx.storage.write_select(output, sql, incremental=incremental, primary_key=primary_key or [],
                                        cancel=ctx.cancel, inspect=inspect)
    except KbcError as exc:
        raise ComponentError(f"{source}: cannot load the CSV: {exc}") from None


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def csv_params(check: Any) -> None:
    """The CSV options shared by sheet-extractor and csv-upload."""
    check.table_id("output")
    check.int("header", minimum=0)
    delimiter = check.str("delimiter")
    if delimiter is not None and len(delimiter) != 1:
        check.add("delimiter", "expected one character")
    encoding = check.str("encoding")
    if encoding:
        import codecs

        try:
            codecs.lookup(encoding)
        except LookupError:
            check.add("encoding", f"unknown encoding {encoding!r}")
    check.str_list("primary_key")
    check.bool("incremental")
    if check.data.get("incremental") and not check.data.get("primary_key"):
        check.add("primary_key", "incremental loading needs a primary key")


def is_utf8(encoding: str) -> bool:
    return encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig")


def as_utf8(source: Path, scratch: Path, encoding: str) -> Path:
    """A UTF-8 version of ``source``: the file itself when it is UTF-8 already (checked, not copied)."""
    if is_utf8(encoding):
        check_utf8(source)
        return source
    target = scratch / "utf8.csv"
    transcode_to_utf8(source, target, encoding)
    return target


def check_utf8(source: Path) -> None:
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    offset = 0
    with source.open("rb") as src:
        try:
            while chunk := src.read(1 << 22):
                decoder.decode(chunk)
                offset += len(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise ComponentError(f"the file is not valid utf-8 text ({exc.reason} at byte {offset + exc.start}); "
                                 "set 'encoding' (e.g. \"cp1250\" or \"latin-1\")") from None


def transcode_to_utf8(source: Path, target: Path, encoding: str) -> None:
    """Stream a file in ``encoding`` into UTF-8 (DuckDB reads UTF-8); a BOM is dropped."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8")
                                           else encoding)(errors="strict")
    with source.open("rb") as src, target.open("w", encoding="utf-8", newline="") as dst:
        try:
            while chunk := src.read(1 << 20):
                dst.write(decoder.decode(chunk))
            dst.write(decoder.decode(b"", final=True))
        except UnicodeDecodeError as exc:
            raise ComponentError(f"the file is not valid {encoding} text ({exc.reason} at byte {exc.start}); "
                                 "set 'encoding' (e.g. \"cp1250\" or \"latin-1\")") from None
