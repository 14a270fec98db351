"""Reading person-record lists for linkage (pure: pandas). UTF-8 (BOM or not) or Windows-1256, CSV or XLSX."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .prepare import RECORD_COLUMNS

PERSON_FIELDS = [c for c in RECORD_COLUMNS if c != "record_id"]


class InputError(ValueError):
    """A list cannot be linked as given; the message names the file and the problem."""


@dataclass
class ReadReport:
    source: str
    rows: int = 0
    records: int = 0
    encoding: str = ""
    skipped: list[dict] = field(default_factory=list)  # {"row": n, "reason": ...}
    missing_columns: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)


def _decode(raw: bytes, path: Path) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "cp1256"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise InputError(f"{path.name}: not UTF-8 or Windows-1256 text")


def _read_csv_text(text: str | None, raw: bytes, delimiter: str, path: Path) -> pd.DataFrame:
    """All columns as strings; pyarrow's parser (fast on a million rows), pandas' if pyarrow cannot."""
    data = (text.encode("utf-8") if text is not None else raw).removeprefix(b"\xef\xbb\xbf")
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        header = next(csv.reader([data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")], delimiter=delimiter))
        table = pacsv.read_csv(
            io.BytesIO(data),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header}, strings_can_be_null=False
            ),
        )
        return table.to_pandas()
    except ImportError:  # pragma: no cover - pyarrow comes with the project's pandas stack
        pass
    except Exception as exc:  # pyarrow is strict (e.g. ragged rows): let pandas try, and word the error
        try:
            return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, sep=delimiter)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc2:
            raise InputError(f"{path.name}: not a readable CSV ({exc2})") from exc
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, sep=delimiter)


def read_person_list(path: str | Path) -> tuple[pd.DataFrame, ReadReport]:
    """Records of one list (all columns as strings) and what was skipped; raises InputError if unusable.

    Rows whose record_id is empty, or whose person fields are all empty, are skipped (and reported). A
    record_id used twice in one list is an error: which row is the person would be a guess.
    """
    path = Path(path)
    report = ReadReport(source=path.stem)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            df = pd.read_excel(path, dtype=str, keep_default_na=False)
        except Exception as exc:
            raise InputError(f"{path.name}: cannot read the workbook ({exc})") from exc
        report.encoding = "xlsx"
    else:
        raw = path.read_bytes()
        text, report.encoding = _decode(raw, path)
        if not text.strip():
            raise InputError(f"{path.name}: the file is empty (a header row with record_id is required)")
        first_line = text.split("\n", 1)[0]
        try:
            delimiter = csv.Sniffer().sniff(first_line, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
        df = _read_csv_text(text if report.encoding != "utf-8-sig" else None, raw, delimiter, path)
    df.columns = [str(c).strip().lower().lstrip("\ufeff") for c in df.columns]
    if "record_id" not in df.columns:
        raise InputError(f"{path.name}: no record_id column (columns found: {', '.join(df.columns)})")
    report.missing_columns = [c for c in PERSON_FIELDS if c not in df.columns]
    report.extra_columns = [c for c in df.columns if c not in RECORD_COLUMNS]
    for col in report.missing_columns:
        df[col] = ""
    df = df[RECORD_COLUMNS].astype(str)
    df["record_id"] = df["record_id"].str.strip()
    report.rows = len(df)
    no_id = df["record_id"] == ""
    # Every person field empty or blank; only short rows need the (slower) strip.
    lengths = df[PERSON_FIELDS].apply(lambda col: col.str.len())
    short = lengths.sum(axis=1) < 40
    empty = pd.Series(False, index=df.index)
    if short.any():
        stripped = df.loc[short, PERSON_FIELDS].apply(lambda col: col.str.strip())
        empty[short] = (stripped == "").all(axis=1).astype(bool).to_numpy()
    for idx in df.index[no_id | empty]:
        reason = "record_id is empty" if no_id[idx] else "every person field is empty"
        report.skipped.append({"row": int(idx) + 2, "reason": reason})  # +2: header row, 1-based
    df = df[~(no_id | empty)].reset_index(drop=True)
    dup = df["record_id"].duplicated(keep=False)
    if dup.any():
        ids = sorted(df.loc[dup, "record_id"].unique())
        shown = ", ".join(ids[:5]) + (" …" if len(ids) > 5 else "")
        raise InputError(f"{path.name}: record_id used more than once ({len(ids)} ids: {shown})")
    report.records = len(df)
    return df, report
