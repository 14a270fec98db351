"""Reading incidence and serial-interval CSV files for `mahalle rt`, and writing its output (pure; no Django).

Input handling (documented in docs/rt.md):
- incidence: header row with `date` and `local` (or, instead of `local`, a single total column `I` or
  `incidence`, treated as EpiEstim treats a total: local, with the first day's cases imported) and optionally
  `imported`; other columns are ignored. UTF-8 (with or without BOM). Dates Gregorian YYYY-MM-DD or Jalali
  YYYY/MM/DD, in Latin or Persian digits. Counts are whole numbers >= 0.
- unsorted rows are sorted by date (said in the notes); a date given twice is an error; days missing between
  the first and last date are filled with 0 cases (said in the notes: a day without cases is often simply
  left out of a line list). Blank lines are skipped; a blank count is an error.
- serial interval: one column `w`, w[0] = 0, values >= 0, summing to 1 within 0.01 (EpiEstim's tolerance);
  it is used as given, not normalised.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mahalle.core.dates import InvalidDate, parse_date
from mahalle.core.persian import normalize_text

from .rt import RtInputError, RtResult, check_si_distr

OUTPUT_COLUMNS = ["date_start", "date_end", "mean", "std", "lower", "upper"]
TOTAL_ALIASES = ("i", "incidence")


@dataclass
class Incidence:
    dates: list[dt.date]
    local: np.ndarray
    imported: np.ndarray
    has_imported_column: bool
    filled_dates: list[dt.date] = field(default_factory=list)
    sorted_rows: bool = False
    notes: list[str] = field(default_factory=list)


def _read_rows(path: str | Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError as exc:
        raise RtInputError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise RtInputError(f"{path}: is a directory, not a CSV file") from exc
    except UnicodeDecodeError as exc:
        raise RtInputError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    reader = csv.reader(text.splitlines())
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if header is None:
                header = [normalize_text(v).strip().lower() for v in values]
                continue
            rows.append((reader.line_num, values))
    except csv.Error as exc:
        raise RtInputError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from exc
    if header is None:
        raise RtInputError(f"{path}: the file is empty (expected a header row)")
    return header, rows


def _non_negative(raw: str, where: str, what: str) -> float:
    """`raw` (Latin or Persian digits) as a finite number >= 0; else an RtInputError that starts with `where`
    (the file, line and column) and calls a negative value a negative `what`."""
    try:
        value = float(normalize_text(raw).strip())
    except ValueError:
        raise RtInputError(f"{where}: '{raw}' is not a number") from None
    if not math.isfinite(value):
        raise RtInputError(f"{where}: '{raw}' is not a finite number")
    if value < 0:
        raise RtInputError(f"{where}: negative {what} {raw}")
    return value


def _count(path, line: int, column: str, raw: str) -> float:
    if not normalize_text(raw).strip():
        raise RtInputError(f"{path}: line {line}: column '{column}' is empty (expected a whole number >= 0)")
    value = _non_negative(raw, f"{path}: line {line}: column '{column}'", "count")
    if value != int(value):
        raise RtInputError(f"{path}: line {line}: column '{column}': {raw} is not a whole number of cases")
    return value


def read_incidence_csv(path: str | Path) -> Incidence:
    header, rows = _read_rows(path)
    if "date" not in header:
        raise RtInputError(f"{path}: the header has no 'date' column (found: {', '.join(header)})")
    if "local" in header:
        local_col = "local"
        aliases = [a for a in TOTAL_ALIASES if a in header]
        if aliases:
            raise RtInputError(f"{path}: give either 'local' (with 'imported') or '{aliases[0]}', not both")
    else:
        aliases = [a for a in TOTAL_ALIASES if a in header]
        if not aliases:
            raise RtInputError(
                f"{path}: the header has no 'local' column (found: {', '.join(header)}); expected "
                "date, local[, imported]"
            )
        if "imported" in header:
            raise RtInputError(
                f"{path}: a total column '{aliases[0]}' cannot go with 'imported'; use 'local'"
            )
        local_col = aliases[0]
    for name in {"date", local_col, "imported"} & set(header):
        if header.count(name) > 1:
            raise RtInputError(f"{path}: the header has the column '{name}' twice")
    has_imported = "imported" in header
    i_date, i_local = header.index("date"), header.index(local_col)
    i_imported = header.index("imported") if has_imported else None
    if not rows:
        raise RtInputError(f"{path}: no data rows after the header")

    seen: dict[dt.date, int] = {}
    records: list[tuple[dt.date, float, float]] = []
    for line, values in rows:
        if len(values) > len(header):
            raise RtInputError(f"{path}: line {line}: {len(values)} fields but the header has {len(header)}")
        values = values + [""] * (len(header) - len(values))
        raw_date = values[i_date]
        try:
            day, _ = parse_date(raw_date)
        except InvalidDate as exc:
            raise RtInputError(f"{path}: line {line}: column 'date': {exc}") from None
        if day in seen:
            raise RtInputError(
                f"{path}: line {line}: the date {day.isoformat()} is already on line {seen[day]} "
                "(one row per day; add the counts up first)"
            )
        seen[day] = line
        local = _count(path, line, "I" if local_col == "i" else local_col, values[i_local])
        imported = _count(path, line, "imported", values[i_imported]) if i_imported is not None else 0.0
        records.append((day, local, imported))

    ordered = sorted(records, key=lambda r: r[0])
    result_notes: list[str] = []
    sorted_rows = ordered != records
    if sorted_rows:
        result_notes.append("the rows were not in date order; they were sorted by date")
    first, last = ordered[0][0], ordered[-1][0]
    n_days = (last - first).days + 1
    dates = [first + dt.timedelta(days=i) for i in range(n_days)]
    local_arr = np.zeros(n_days)
    imported_arr = np.zeros(n_days)
    for day, local, imported in ordered:
        i = (day - first).days
        local_arr[i], imported_arr[i] = local, imported
    filled = [d for d in dates if d not in seen]
    if filled:
        shown = ", ".join(d.isoformat() for d in filled[:10]) + (" …" if len(filled) > 10 else "")
        result_notes.append(
            f"{len(filled)} missing date(s) between {first} and {last} counted as 0 cases: {shown}"
        )
    if local_arr[0] > 0:
        result_notes.append(
            f"the {int(local_arr[0])} local case(s) of the first day ({first}) are counted as imported, as "
            "EpiEstim does (nothing before them could have infected them)"
        )
    return Incidence(
        dates=dates,
        local=local_arr,
        imported=imported_arr,
        has_imported_column=has_imported,
        filled_dates=filled,
        sorted_rows=sorted_rows,
        notes=result_notes,
    )


def read_si_distr_csv(path: str | Path) -> np.ndarray:
    header, rows = _read_rows(path)
    if "w" not in header:
        raise RtInputError(f"{path}: the header has no 'w' column (found: {', '.join(header)})")
    i_w = header.index("w")
    values = []
    for line, row in rows:
        raw = row[i_w] if i_w < len(row) else ""
        values.append(_non_negative(raw, f"{path}: line {line}", "probability"))
    if len(values) < 2:
        raise RtInputError(f"{path}: needs at least two values (w[0] = 0, w[1], …)")
    try:
        return check_si_distr(values)
    except RtInputError as exc:
        raise RtInputError(f"{path}: {exc}") from None


def write_rt_csv(path: str | Path, dates: list[dt.date], result: RtResult) -> int:
    """One row per window: date_start, date_end, mean, std, lower (2.5%), upper (97.5%). Returns the rows.

    Written to a temporary file beside `path` and renamed over it: a failure never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        _write_rows(tmp, dates, result)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return len(result.t_start)


def _write_rows(path: Path, dates: list[dt.date], result: RtResult) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(OUTPUT_COLUMNS)
        for i in range(len(result.t_start)):
            writer.writerow(
                [
                    dates[int(result.t_start[i]) - 1].isoformat(),
                    dates[int(result.t_end[i]) - 1].isoformat(),
                    repr(float(result.mean[i])),
                    repr(float(result.std[i])),
                    repr(float(result.lower[i])),
                    repr(float(result.upper[i])),
                ]
            )
