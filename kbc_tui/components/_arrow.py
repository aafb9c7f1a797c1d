"""SQLAlchemy column types to Arrow types, and rows to Arrow record batches without losing precision."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any, Sequence

import pyarrow as pa

from kbc_tui.components._sqldb import MixedColumn


def arrow_type(sa_type: Any) -> pa.DataType | None:
    """The Arrow type for a SQLAlchemy column type, or None to infer from the values."""
    import sqlalchemy as sa

    t = sa_type
    if getattr(t, "is_mysql_duration", False):
        return pa.duration("us")  # MySQL's TIME is a duration (-838:59:59 .. 838:59:59), not a time of day
    if isinstance(t, sa.Boolean) or (type(t).__name__ == "TINYINT" and getattr(t, "display_width", None) == 1):
        return pa.bool_()  # MySQL/MariaDB BOOLEAN is TINYINT(1)
    if isinstance(t, sa.SmallInteger):
        return pa.int16()
    if isinstance(t, sa.BigInteger):
        return pa.int64()
    if isinstance(t, sa.Integer):
        return pa.int64()  # SQLite INTEGER is 64-bit
    if isinstance(t, sa.Numeric) and not isinstance(t, sa.Float):
        precision = t.precision or 38
        scale = t.scale if t.scale is not None else (0 if t.precision else 9)
        return pa.decimal128(min(precision, 38), scale)
    if isinstance(t, (sa.Float, sa.REAL)):
        return pa.float64()
    if isinstance(t, sa.DateTime):
        return pa.timestamp("us", tz="UTC") if t.timezone else pa.timestamp("us")
    if isinstance(t, sa.Date):
        return pa.date32()
    if isinstance(t, sa.Time):
        return pa.time64("us")
    if isinstance(t, sa.Interval):
        return pa.duration("us")
    if isinstance(t, (sa.LargeBinary, sa.types._Binary)):
        return pa.binary()
    if isinstance(t, (sa.String, sa.Text, sa.Enum)):
        return pa.string()
    if isinstance(t, sa.JSON):
        return pa.string()
    return None


def _convert(value: Any, typ: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_decimal(typ):
        if isinstance(value, float):
            value = decimal.Decimal(repr(value))
        elif not isinstance(value, decimal.Decimal):
            value = decimal.Decimal(str(value))
        return value.quantize(decimal.Decimal(1).scaleb(-typ.scale))
    if pa.types.is_timestamp(typ):
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if typ.tz and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value
    if pa.types.is_date(typ) and isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    if pa.types.is_boolean(typ) and not isinstance(value, bool):
        return bool(int(value)) if not isinstance(value, str) else value.lower() in ("1", "t", "true", "yes")
    if pa.types.is_string(typ) and not isinstance(value, str):
        import json

        return json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return value


def rows_to_batch(rows: Sequence[Sequence[Any]], names: list[str], types: list[pa.DataType | None]) -> pa.RecordBatch:
    """Build a batch column by column; unknown types are inferred (and fixed after the first batch)."""
    arrays = []
    for i, typ in enumerate(types):
        column = [row[i] for row in rows]
        if typ is None:
            arrays.append(pa.array(column))
            continue
        try:
            arrays.append(pa.array(column, type=typ))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            try:
                arrays.append(pa.array([_convert(v, typ) for v in column], type=typ))
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError, ArithmeticError):
                raise mixed_column(names[i], column, typ) from None
    return pa.RecordBatch.from_arrays(arrays, names=names)


_KINDS = ((bool, "booleans"), (int, "integers"), (float, "real numbers"), (decimal.Decimal, "decimals"),
          (str, "text"), (bytes, "binary values"), (dt.datetime, "timestamps"), (dt.date, "dates"),
          (dt.time, "times"), (dt.timedelta, "durations"))


def mixed_column(name: str, values: Sequence[Any], typ: pa.DataType) -> MixedColumn:
    """The error for a column whose values do not all fit its one Arrow type: what kinds of values it holds."""
    kinds: list[str] = []
    example: Any = None
    for v in values:
        if v is None:
            continue
        kind = next((k for t, k in _KINDS if isinstance(v, t)), type(v).__name__)
        if kind not in kinds:
            kinds.append(kind)
        if example is None and not _fits(v, typ):
            example = v
    return MixedColumn(name, kinds, example, str(typ))


def _fits(value: Any, typ: pa.DataType) -> bool:
    try:
        pa.array([_convert(value, typ)], type=typ)
        return True
    except Exception:
        return False
