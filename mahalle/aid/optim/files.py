"""The allocation CSV files: stock.csv, need.csv, reach.csv in; allocation.csv out. Pure (no Django).

Input files are UTF-8 (with or without BOM) or Windows-1256, with a header row; the delimiter is told from the
header (comma, semicolon, tab or |). Column names are matched case-insensitively after trimming; extra columns
are ignored. Values are trimmed and Persian/Arabic digits are read as digits. Every problem is an
AllocationInputError naming the file, the row (spreadsheet numbering: the header is row 1) and the column.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
import re
import tempfile
from pathlib import Path

from mahalle.core.persian import normalize_text

from .problem import AllocationInputError

STOCK_COLUMNS = ("warehouse_id", "units")
NEED_COLUMNS = ("region_id", "need", "weight")
REACH_COLUMNS = ("warehouse_id", "region_id", "distance_km")
OUTPUT_COLUMNS = ("warehouse_id", "region_id", "units")
_WHOLE = re.compile(r"[+-]?\d+(\.0*)?")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
VALUE_SHOWN = 40


class _Table:
    def __init__(self, path: str | Path, columns: tuple[str, ...]):
        self.path = Path(path)
        self.label = self.path.name
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise AllocationInputError(f"{self.label}: the file cannot be read ({exc.strerror})") from exc
        if not raw.strip():
            raise AllocationInputError(f"{self.label}: the file is empty")
        self.text = self._decode(raw)
        lines = self.text.splitlines()
        first = next((line for line in lines if line.strip()), "")
        self.delimiter = max(",;\t|", key=first.count) if any(d in first for d in ",;\t|") else ","
        self.last_line = 0
        self.cache: dict[str, str] = {}
        self.reader = csv.reader(io.StringIO(self.text, newline=""), delimiter=self.delimiter, strict=True)
        try:
            header = next(self._rows())[1]
        except StopIteration:
            raise AllocationInputError(f"{self.label}: the file is empty") from None
        names = [normalize_text(name).lower().replace(" ", "_").replace("-", "_") for name in header]
        for name in names:
            if name and names.count(name) > 1:
                raise AllocationInputError(
                    f"{self.label}, row 1: the column '{name}' appears twice in the header"
                )
        missing = [name for name in columns if name not in names]
        if missing:
            found = ", ".join(name for name in names if name) or "nothing"
            raise AllocationInputError(
                f"{self.label}, row 1: the header lacks the column(s) {', '.join(missing)} "
                f"(found: {found}; expected: {', '.join(columns)})"
            )
        self.width = len(names)
        self.position = {name: names.index(name) for name in columns}

    def _decode(self, raw: bytes) -> str:
        if raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in raw:
            raise AllocationInputError(
                f"{self.label}: the file is not text in UTF-8 or Windows-1256 (UTF-16 or binary); save it as CSV UTF-8"
            )
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        try:
            return raw.decode("cp1256")
        except UnicodeDecodeError as exc:  # pragma: no cover - cp1256 maps nearly every byte
            raise AllocationInputError(
                f"{self.label}: the file is neither UTF-8 nor Windows-1256 text"
            ) from exc

    def _rows(self):
        try:
            for values in self.reader:
                line = self.last_line + 1  # where this record starts
                self.last_line = self.reader.line_num
                if not any(value.strip() for value in values):
                    continue
                yield line, values
        except csv.Error as exc:
            raise AllocationInputError(
                f"{self.label}, row {self.last_line + 1}: the CSV is malformed ({exc})"
            ) from exc

    def rows(self):
        """(row number, [trimmed text of each wanted column, in order]) for each non-blank data row. Values go
        through the Persian normaliser (trimmed, one space, ASCII digits), memoised: ids and numbers repeat."""
        count = 0
        width = self.width
        indices = list(self.position.values())
        cache = self.cache
        for line, values in self._rows():
            if len(values) > width and any(value.strip() for value in values[width:]):
                raise AllocationInputError(
                    f"{self.label}, row {line}: {len(values)} fields but the header has {width} columns "
                    f"(is the delimiter '{self.delimiter}' used inside a value? quote it)"
                )
            count += 1
            row = []
            for index in indices:
                value = values[index] if index < len(values) else ""
                clean = cache.get(value)
                if clean is None:
                    clean = cache[value] = normalize_text(value)
                row.append(clean)
            yield line, row
        if count == 0:
            raise AllocationInputError(f"{self.label}: the file has a header but no rows")

    def error(self, line: int, column: str, message: str) -> AllocationInputError:
        return AllocationInputError(f"{self.label}, row {line}, column '{column}': {message}")


def _shown(value: str) -> str:
    return repr(value if len(value) <= VALUE_SHOWN else value[:VALUE_SHOWN] + "…")


def _number_text(value: str) -> str:
    return value.replace("٫", ".").replace("−", "-").replace("\u2212", "-").replace(" ", "")


def _id(table: _Table, line: int, column: str, value: str) -> str:
    if not value:
        raise table.error(line, column, "is empty")
    return value


def _units(table: _Table, line: int, column: str, value: str) -> int:
    if not value:
        raise table.error(line, column, "is empty (a whole number of units is required)")
    text = _number_text(value)
    if _WHOLE.fullmatch(text):
        number = int(float(text)) if "." in text else int(text)
        if number < 0:
            raise table.error(line, column, f"{_shown(value)} is negative; units must be 0 or more")
        return number
    if _DECIMAL.fullmatch(text):
        number = float(text)
        if number < 0:
            raise table.error(line, column, f"{_shown(value)} is negative; units must be 0 or more")
        if number.is_integer():
            return int(number)
        raise table.error(
            line, column, f"{_shown(value)} is fractional; units are indivisible (a whole number)"
        )
    raise table.error(line, column, f"{_shown(value)} is not a number")


def _nonnegative(table: _Table, line: int, column: str, value: str) -> float:
    if not value:
        raise table.error(line, column, "is empty (a number 0 or more is required)")
    text = _number_text(value)
    if not _DECIMAL.fullmatch(text):
        raise table.error(line, column, f"{_shown(value)} is not a number")
    number = float(text)
    if not math.isfinite(number):
        raise table.error(line, column, f"{_shown(value)} is not a finite number")
    if number < 0:
        raise table.error(line, column, f"{_shown(value)} is negative; it must be 0 or more")
    return number


def read_stock(path: str | Path) -> dict[str, int]:
    table = _Table(path, STOCK_COLUMNS)
    stock: dict[str, int] = {}
    first_row: dict[str, int] = {}
    for line, (warehouse, units) in table.rows():
        warehouse = _id(table, line, "warehouse_id", warehouse)
        if warehouse in stock:
            raise table.error(
                line,
                "warehouse_id",
                f"{_shown(warehouse)} appears twice (first on row {first_row[warehouse]})",
            )
        first_row[warehouse] = line
        stock[warehouse] = _units(table, line, "units", units)
    return stock


def read_need(path: str | Path) -> list[tuple[str, int, float]]:
    table = _Table(path, NEED_COLUMNS)
    need: list[tuple[str, int, float]] = []
    first_row: dict[str, int] = {}
    for line, (region, units, weight) in table.rows():
        region = _id(table, line, "region_id", region)
        if region in first_row:
            raise table.error(
                line, "region_id", f"{_shown(region)} appears twice (first on row {first_row[region]})"
            )
        first_row[region] = line
        need.append((region, _units(table, line, "need", units), _nonnegative(table, line, "weight", weight)))
    return need


def read_reach(path: str | Path, warehouses, regions) -> list[tuple[str, str, float]]:
    """`warehouses` and `regions`: the ids of the stock and need files; an id not among them is an error."""
    table = _Table(path, REACH_COLUMNS)
    warehouses, regions = set(warehouses), set(regions)
    reach: list[tuple[str, str, float]] = []
    first_row: dict[tuple[str, str], int] = {}
    distances: dict[str, float] = {}  # text -> km, for texts already read correctly
    for line, (warehouse, region, distance) in table.rows():
        if warehouse not in warehouses:
            _id(table, line, "warehouse_id", warehouse)
            raise table.error(
                line, "warehouse_id", f"{_shown(warehouse)} is not a warehouse of the stock file"
            )
        if region not in regions:
            _id(table, line, "region_id", region)
            raise table.error(line, "region_id", f"{_shown(region)} is not a region of the need file")
        pair = (warehouse, region)
        if pair in first_row:
            raise table.error(
                line,
                "region_id",
                f"the pair ({warehouse}, {region}) appears twice (first on row {first_row[pair]})",
            )
        first_row[pair] = line
        km = distances.get(distance)
        if km is None:
            km = distances[distance] = _nonnegative(table, line, "distance_km", distance)
        reach.append((warehouse, region, km))
    return reach


def write_allocation(path: str | Path, units: dict[tuple[str, str], int]) -> int:
    """Write `warehouse_id, region_id, units` (units > 0, sorted by warehouse then region), atomically.
    Returns the number of rows."""
    path = Path(path)
    rows = sorted((w, r, n) for (w, r), n in units.items() if n > 0)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise AllocationInputError(f"{path}: the folder {folder} does not exist")
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, then renamed into place
            "w", encoding="utf-8", newline="", dir=folder, prefix=f".{path.name}.", delete=False
        )
    except OSError as exc:
        raise AllocationInputError(f"{path}: the allocation cannot be written ({exc.strerror})") from exc
    try:
        with handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(OUTPUT_COLUMNS)
            writer.writerows(rows)
        os.replace(handle.name, path)
    except OSError as exc:
        Path(handle.name).unlink(missing_ok=True)
        raise AllocationInputError(f"{path}: the allocation cannot be written ({exc.strerror})") from exc
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return len(rows)
