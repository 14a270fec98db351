"""The file formats of an import: CSV (UTF-8 with or without BOM, or Windows-1256; delimiter , ; tab or |) and
XLSX (the first sheet). `Source.open` checks the file as a whole (size, encoding); `Source.records()` yields its
data rows and raises ImportFileError on anything hostile or broken (mixed encodings, unterminated quotes, rows
wider than the header, a damaged workbook), so the pre-scan (core.ingest) fails the job before anything is
written. Used by the registry import, the needs agency lists and the lab-results command."""

import codecs
import csv
import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

from mahalle.core.ingest import XLSX_MAGIC, ImportFileError
from mahalle.core.persian import normalize_text

SAMPLE_BYTES = 1 << 20


def _file_error_label(encoding: str) -> str:
    return {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp1256": "Windows-1256"}.get(encoding, encoding)


# Characters a Persian/Arabic text in Windows-1256 decodes to; anything else non-ASCII (é, œ, „ …) in bulk
# means the file is in some other 8-bit encoding.
_PLAUSIBLE_RANGES = ((0x0600, 0x06FF), (0x200C, 0x200F), (0x00AB, 0x00AB), (0x00BB, 0x00BB), (0x00A0, 0x00A0))


def _plausible_cp1256(text: str) -> bool:
    non_ascii = [ord(ch) for ch in text if ord(ch) > 127]
    if not non_ascii:
        return True
    odd = sum(1 for code in non_ascii if not any(lo <= code <= hi for lo, hi in _PLAUSIBLE_RANGES))
    return odd <= len(non_ascii) * 0.1


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM) or Windows-1256, told from the first megabyte; else ImportFileError."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in sample:
        raise ImportFileError(
            "the file is not text in UTF-8 or Windows-1256 (it looks like UTF-16 or a binary file); "
            "save it as 'CSV UTF-8'"
        )
    if len(sample) == SAMPLE_BYTES and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]  # whole lines only: no character cut in two
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        as_utf8 = sample.decode("utf-8", errors="replace")
        damaged = as_utf8.count("\ufffd")
        if sum(1 for ch in as_utf8 if ord(ch) > 127) - damaged > damaged:
            # Mostly valid UTF-8 with some bytes that are not: a damaged or mixed file, not Windows-1256.
            line = as_utf8[: as_utf8.index("\ufffd")].count("\n") + 1
            raise ImportFileError(
                f"line {line} is not valid UTF-8 text, though the rest of the file is; "
                "the file mixes encodings or is damaged"
            ) from None
    if _plausible_cp1256(sample.decode("cp1256")):
        return "cp1256"
    raise ImportFileError(
        "the file's text encoding is neither UTF-8 nor Windows-1256 (its bytes do not decode to Persian "
        "text); save it as 'CSV UTF-8'"
    )


def _header_name(value: object) -> str:
    return normalize_text(value).lower().replace(" ", "_").replace("-", "_")


@dataclasses.dataclass
class Source:
    """An import file: its format, encoding and header. `records()` yields (row number, values) afresh."""

    path: Path
    format: str  # "csv" or "xlsx"
    encoding: str = ""
    delimiter: str = ","
    header: list[str] = dataclasses.field(default_factory=list)

    @classmethod
    def open(cls, path: str | Path) -> "Source":
        path = Path(path)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ImportFileError(f"the file cannot be read ({exc.strerror})") from exc
        if size == 0:
            raise ImportFileError("the file is empty")
        if size > settings.MAHALLE_MAX_IMPORT_BYTES:
            raise ImportFileError(
                f"the file is {size:,} bytes, over the limit of {settings.MAHALLE_MAX_IMPORT_BYTES:,} bytes; "
                "split it into smaller files"
            )
        with path.open("rb") as handle:
            sample = handle.read(SAMPLE_BYTES)
        if sample.startswith(XLSX_MAGIC):
            source = cls(path=path, format="xlsx", encoding="xlsx")
        else:
            source = cls(path=path, format="csv", encoding=detect_encoding(sample))
            first_line = sample.split(b"\n", 1)[0].decode(source.encoding, errors="replace")
            source.delimiter = (
                max(",;\t|", key=first_line.count) if any(d in first_line for d in ",;\t|") else ","
            )
        return source

    # CSV ------------------------------------------------------------------------------------------------
    def _csv_lines(self) -> Iterator[str]:
        encoding = self.encoding
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                try:
                    yield raw.decode(encoding)
                except UnicodeDecodeError as exc:
                    raise ImportFileError(
                        f"line {number} is not valid {_file_error_label(encoding)} text "
                        f"(byte 0x{raw[exc.start]:02x} at position {exc.start + 1}); "
                        "the file mixes encodings or is damaged"
                    ) from exc

    def _csv_rows(self) -> Iterator[tuple[int, list]]:
        reader = csv.reader(self._csv_lines(), delimiter=self.delimiter, strict=True)
        last_line = 0  # where the previous record ended: a broken record starts on the next line
        try:
            for values in reader:
                last_line = reader.line_num
                yield last_line, values
        except csv.Error as exc:
            raise ImportFileError(
                f"the CSV is malformed in the record starting at line {last_line + 1}: {exc} "
                "(an unterminated quote, or a damaged or truncated file)"
            ) from exc

    # XLSX -----------------------------------------------------------------------------------------------
    def _xlsx_rows(self) -> Iterator[tuple[int, list]]:
        import openpyxl

        # A handle, not the path: openpyxl would insist on an .xlsx name. Any error opening it (BadZipFile,
        # KeyError, InvalidFileException) means the same to the user: not a readable workbook.
        handle = self.path.open("rb")
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:
            handle.close()
            raise ImportFileError(
                f"the file is not a readable XLSX workbook ({exc.__class__.__name__})"
            ) from exc
        try:
            sheet = workbook.worksheets[0]
            for number, cells in enumerate(sheet.iter_rows(values_only=True), 1):
                yield number, [_cell_value(value) for value in cells]
        except ImportFileError:
            raise
        except Exception as exc:
            raise ImportFileError(f"the workbook is damaged ({exc.__class__.__name__}: {exc})") from exc
        finally:
            workbook.close()
            handle.close()

    def records(self) -> Iterator[tuple[int, list]]:
        """(row number, values) for every non-blank data row; sets `header` from the first row.

        The row number is the file's line (the header being line 1), as a spreadsheet shows it."""
        rows = self._xlsx_rows() if self.format == "xlsx" else self._csv_rows()
        width = None
        for number, values in rows:
            if width is None:
                self.header = [_header_name(v) for v in values]
                while self.header and not self.header[-1]:
                    self.header.pop()
                if not any(self.header):
                    raise ImportFileError("the first line must be a header naming the columns")
                seen = set()
                for name in self.header:
                    if name and name in seen:
                        raise ImportFileError(f"the column '{name}' appears twice in the header")
                    seen.add(name)
                width = len(self.header)
                continue
            if len(values) != width:
                if self.format == "xlsx" or (len(values) > width and not any(values[width:])):
                    if any(v not in ("", None) for v in values[width:]):
                        raise ImportFileError(f"row {number} has values beyond the header's {width} columns")
                    values = (values + [""] * width)[:width]
                elif not values:
                    continue
                else:
                    raise ImportFileError(
                        f"line {number} has {len(values)} fields but the header has {width}; "
                        "check the delimiters and quotes on that line"
                    )
            if not any(v not in ("", None) for v in values):
                continue
            yield number, values
        if width is None:
            raise ImportFileError("the file is empty")


def _cell_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date | str):
        return value
    return str(value)
