"""Recordings as tables, one file each: CSV or Parquet with the columns of the recording schema.

Columns (docs/contracts.md, "Real recordings"): ``frame`` (int), ``time_s``, ``x``, ``y``, ``z`` (m),
``velocity`` (m/s, radial) and one of ``intensity`` / ``snr`` (dB); other columns are ignored.  Values are
read as text first, so an empty cell, a word and a NaN each get their own message with the line (CSV, the
header is line 1) or row (Parquet, from 1) where it first occurs.  Blank lines are skipped.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.real.schema import Columns, RealDataError

POINT_COLUMNS = ("frame", "time_s", "x", "y", "z", "velocity")
INTENSITY_COLUMNS = ("intensity", "snr")  # either one, in dB
PARQUET_META_KEY = b"mmflywheel"  # schema metadata: the sidecar's JSON object


def csv_rows(text: str, where: str) -> tuple[list[str] | None, list[list[str]], list[int]]:
    """(the header in lower case, or None for no line; the data rows as text; each row's line number) of a CSV
    text, blank lines skipped; RealDataError naming ``where`` for a row of another width or broken quoting."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    cells, lines = [], []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines, as editors leave them at the end
            if header is None:
                header = [cell.strip().lower() for cell in row]
            elif len(row) != len(header):
                raise RealDataError(where, f"line {reader.line_num}: {len(row)} fields, the header has {len(header)}")
            else:
                cells.append(row)
                lines.append(reader.line_num)
    except csv.Error as exc:
        raise RealDataError(where, f"not a valid CSV file (line {reader.line_num}: {exc})") from None
    return header, cells, lines


def read_csv(path: Path, where: str) -> Columns:
    """The schema's columns of the CSV file ``path``; RealDataError naming ``where`` otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RealDataError.unreadable(where, exc) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RealDataError(where, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start})") from None
    header, cells, lines = csv_rows(text, where)
    if header is None:
        raise RealDataError(where, "empty file")
    names = _pick_columns(header, where)
    line_of = np.array(lines, dtype=np.int64)
    values = {name: _parse([row[header.index(name)] for row in cells], name, where, "line", line_of)
              for name in names}
    return _columns(values, names, where, "line", line_of)


def read_parquet(path: Path, where: str) -> Columns:
    """The schema's columns of the Parquet file ``path`` (and its ``mmflywheel`` schema metadata, if any)."""
    try:
        if path.stat().st_size == 0:
            raise RealDataError(where, "empty file")
        table = pq.read_table(path)
    except OSError as exc:
        if isinstance(exc, pa.ArrowException):  # pyarrow's "not Parquet" errors are OSErrors too
            raise RealDataError(where, f"not a readable Parquet file ({' '.join(str(exc).split())})") from None
        raise RealDataError.unreadable(where, exc) from exc
    except pa.ArrowException as exc:
        raise RealDataError(where, f"not a readable Parquet file ({' '.join(str(exc).split())})") from None
    names = _pick_columns([str(c).strip().lower() for c in table.column_names], where)
    lookup = {str(c).strip().lower(): c for c in table.column_names}
    values = {}
    rows = np.arange(1, table.num_rows + 1)
    for name in names:
        column = table.column(lookup[name])
        if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
            raise RealDataError(where, f"column {name}: type {column.type}, not numbers")
        if column.null_count:
            row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0]) + 1
            raise RealDataError(where, f"column {name}, row {row}: empty value")
        values[name] = _finite(column.to_numpy().astype(np.float64), name, where, "row", rows)
    cols = _columns(values, names, where, "row", rows)
    meta = (table.schema.metadata or {}).get(PARQUET_META_KEY)
    if meta is None:
        return cols
    try:
        embedded = json.loads(meta)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RealDataError(where, f"schema metadata '{PARQUET_META_KEY.decode()}' is not JSON ({exc})") from None
    if not isinstance(embedded, dict):
        raise RealDataError(where, f"schema metadata '{PARQUET_META_KEY.decode()}' must be a JSON object")
    return dataclasses.replace(cols, embedded_meta=embedded)


def _pick_columns(present: list[str], where: str) -> list[str]:
    """The point columns plus the one intensity column the file has."""
    missing = [c for c in POINT_COLUMNS if c not in present]
    level = [c for c in INTENSITY_COLUMNS if c in present]
    if not level:
        missing.append("intensity or snr")
    if missing:
        raise RealDataError(where, f"missing column(s) {', '.join(missing)} (has: {', '.join(present) or 'none'})")
    if len(level) > 1:
        raise RealDataError(where, "has both intensity and snr columns; keep the one in dB")
    twice = [c for c in (*POINT_COLUMNS, *level) if present.count(c) > 1]
    if twice:
        raise RealDataError(where, f"column(s) {', '.join(twice)} appear more than once")
    return [*POINT_COLUMNS, level[0]]


def _parse(raw: list[str], name: str, where: str, unit: str, number: np.ndarray) -> np.ndarray:
    """Text cells -> float64, or the first empty, non-numeric or non-finite cell, named by its ``unit`` number."""
    values = np.empty(len(raw), dtype=np.float64)
    for k, cell in enumerate(raw):
        text = cell.strip()
        if not text:
            raise RealDataError(where, f"column {name}, {unit} {number[k]}: empty value")
        try:
            values[k] = float(text)
        except ValueError:
            raise RealDataError(where, f"column {name}, {unit} {number[k]}: '{text}' is not a number") from None
    return _finite(values, name, where, unit, number)


def _finite(values: np.ndarray, name: str, where: str, unit: str, number: np.ndarray) -> np.ndarray:
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise RealDataError(where, f"column {name}: NaN or inf in {len(bad)} of {len(values)} values "
                                   f"(first at {unit} {number[bad[0]]})")
    return values


def _columns(values: dict[str, np.ndarray], names: list[str], where: str, unit: str, number: np.ndarray) -> Columns:
    if len(values["frame"]) == 0:
        raise RealDataError(where, "no points (no rows)")
    frame = values["frame"]
    fractional = np.flatnonzero(frame != np.round(frame))
    if len(fractional):
        k = fractional[0]
        raise RealDataError(where, f"column frame, {unit} {number[k]}: {frame[k]:g} is not a whole number")
    return Columns(frame_no=frame.astype(np.int64), time_s=values["time_s"],
                   xyz=np.column_stack([values["x"], values["y"], values["z"]]),
                   velocity=values["velocity"], intensity=values[names[-1]])
