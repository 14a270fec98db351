"""Bulk import of households and persons from CSV or XLSX: the engine behind `mahalle import`, the upload
API and the background task.

How a job runs (import_job_run):

1. The whole file is read once without writing anything (the *pre-scan*): encoding, CSV structure (quotes,
   column counts), header. A file that fails here fails the job with a plain message; nothing is written.
2. Rows are read again, cleaned (registry.services.person_clean, the same rules as every form and API call)
   and grouped into batches. This reading runs in a forked reader process (settings.MAHALLE_IMPORT_READER,
   default "process"; "inline" keeps it in this process), so one core prepares batch k+1 while this process
   and the database write batch k. Fields that repeat (names, sexes, dates) are cleaned once and memoised.
3. Each batch is one transaction: one lookup of existing natural keys, one bulk insert (PostgreSQL COPY,
   SQLite executemany), its row errors, one audit event, and the job's progress (rows_done). A crash
   leaves whole batches committed; running the job again continues after rows_done.

Natural keys make a re-run a no-op: persons by national_code, else record_id (stored as external_id);
households by household_id (stored as external_id). Rows already in the registry count as rows_existing.
"""

import codecs
import csv
import dataclasses
import datetime as dt
import hashlib
import multiprocessing
import operator
import os
import pickle
import queue
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from mahalle.accounts.models import IMPORT_ROLES
from mahalle.accounts.selectors import org_unit_in_jurisdiction, personal_data_paths
from mahalle.audit.services import audit_record
from mahalle.core.errors import NotFound, PermissionDenied, ValidationFailed, field_error
from mahalle.core.identifiers import InvalidIdentifier, national_code_checksum_ok, normalize_mobile
from mahalle.core.persian import normalize_digits, normalize_text
from mahalle.geo.models import Level, OrgUnit

from .models import Household, ImportJob, ImportRowError, Person, Relation
from .services import person_clean, person_keys

# --- the file formats -------------------------------------------------------------------------------------

PERSON_COLUMNS = {
    "record_id": "the source's own id of the person; the natural key when there is no national code",
    "national_code": "10-digit national code (any digits; 8-9 digits are left-padded); the natural key",
    "first_name": "required",
    "last_name": "required",
    "father_name": "optional",
    "birth_date": "Gregorian YYYY-MM-DD, Jalali YYYY/MM/DD or a year alone, any digits; Excel dates too",
    "sex": "M/F, male/female, مرد/زن, 1/2",
    "mobile": "Iranian mobile, any prefix and digits",
    "post_code": "code of the health post the person belongs to (required unless --org-unit is a post)",
    "household_id": "household_id of a household imported before (households file)",
    "relation_to_head": "head, spouse, child, parent, sibling, grandchild, other (or سرپرست, همسر, فرزند …)",
    "chronic_disease": "yes/no (1/0, true/false, بله/خیر); empty is no",
    "disability": "yes/no",
    "pregnant": "yes/no",
    "province": "accepted and ignored (the post decides the place)",
    "county": "accepted and ignored",
    "address": "accepted and ignored for persons (addresses belong to households)",
}
HOUSEHOLD_COLUMNS = {
    "household_id": "required: the source's id of the household, its natural key",
    "post_code": "code of the health post (required unless --org-unit is a post)",
    "address": "optional, up to 500 characters",
    "phone": "optional: a mobile or a landline with its area code",
    "female_headed": "yes/no",
    "lost_income": "yes/no (lost income in the epidemic)",
}
FLAG_VALUES = {
    "": False,
    "0": False,
    "1": True,
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "y": True,
    "n": False,
    "x": True,
    "✓": True,
    "بله": True,
    "بلی": True,
    "آری": True,
    "دارد": True,
    "خیر": False,
    "نه": False,
    "ندارد": False,
}
RELATION_WORDS = {
    "سرپرست": Relation.HEAD,
    "همسر": Relation.SPOUSE,
    "فرزند": Relation.CHILD,
    "پدر": Relation.PARENT,
    "مادر": Relation.PARENT,
    "والد": Relation.PARENT,
    "خواهر": Relation.SIBLING,
    "برادر": Relation.SIBLING,
    "نوه": Relation.GRANDCHILD,
    "سایر": Relation.OTHER,
}
XLSX_MAGIC = b"PK\x03\x04"
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./:-]*")
SAMPLE_BYTES = 1 << 20
VALUE_LIMIT = 100  # characters of an offending value kept on its row error


class ImportFileError(Exception):
    """The file as a whole cannot be imported (encoding, structure, header, size). The job fails; nothing
    of it is written."""


class ImportConflict(Exception):
    """Another worker advanced this job while we were running it."""


def _file_error_label(encoding: str) -> str:
    return {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp1256": "Windows-1256"}.get(encoding, encoding)


# --- reading: encoding, CSV/XLSX records ------------------------------------------------------------------

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


# --- cleaning rows ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class PreparedBatch:
    number: int
    rows: int = 0  # records read, valid or not
    first_row: int = 0
    last_row: int = 0
    candidates: list = dataclasses.field(default_factory=list)  # (row number, keys…, insert values)
    errors: list = dataclasses.field(default_factory=list)  # (row number, field, message, value)
    invalid: int = 0


def _truncate(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


def _parse_flag(value: object) -> bool | None:
    return FLAG_VALUES.get(normalize_text(value).lower())


class _Columns:
    """Positions of the known columns in this file's header; -1 when absent."""

    def __init__(self, header: list[str], known):
        self.index = {name: (header.index(name) if name in header else -1) for name in known}

    def __getitem__(self, name: str) -> int:
        return self.index[name]

    def present(self, name: str) -> bool:
        return self.index[name] >= 0


class _RowCleaner:
    """Shared by the person and household cleaners: posts, duplicate keys, memoised field cleaning."""

    def __init__(
        self,
        *,
        job: ImportJob,
        posts: dict,
        vendor: str,
        actor_id: int | None,
        today: dt.date,
        adapt_datetime: Callable = lambda value: value,
    ):
        self.job = job
        self.scope_path = job.org_unit.path
        self.default_post = (job.org_unit.pk, job.org_unit.path) if job.org_unit.level == Level.POST else None
        self.posts = posts
        self.vendor = vendor
        self.actor_id = actor_id
        self.today = today
        self.seen: dict = {}  # natural key -> first row number, for duplicates within the file
        self._cache: dict = {}
        self._post_cache: dict = {}
        # Values go to the driver as the column stores them: on SQLite dates as ISO text (what Django writes).
        self.sqlite = vendor == "sqlite"
        self.adapt_datetime = adapt_datetime
        self.now = None
        self._ids: Iterator[str] = iter(())

    def new_batch(self, size: int) -> None:
        self.now = self.adapt_datetime(timezone.now())
        self._ids = iter(_uuid4_hex(size))

    def text_key(self, raw: object) -> str:
        """A natural key as text: plain ASCII ids skip the (costlier) full normaliser."""
        if isinstance(raw, str) and _PLAIN_ID.fullmatch(raw):
            return raw
        return normalize_text(raw)

    def post(self, raw: object, errors: list) -> tuple | None:
        hit = self._post_cache.get(raw)
        if hit is not None:
            found, error = hit
            if error:
                errors.append(error)
            return found
        before = len(errors)
        found = self._post(raw, errors)
        if len(self._post_cache) < 100_000:
            self._post_cache[raw] = (found, errors[before] if len(errors) > before else None)
        return found

    def _post(self, raw: object, errors: list) -> tuple | None:
        code = normalize_text(raw)
        if not code:
            if self.default_post is None:
                errors.append(("post_code", "is required (the code of the person's health post)", ""))
            return self.default_post
        found = self.posts.get(code) or self.posts.get(code.upper())
        if found is None:
            errors.append(("post_code", "no health post has this code", code))
            return None
        if not found[1].startswith(self.scope_path):
            errors.append(
                (
                    "post_code",
                    f"this health post is outside {self.job.org_unit.code}, the scope of this import",
                    code,
                )
            )
            return None
        return found

    def flag(self, name: str, raw: object, errors: list) -> bool:
        value = _parse_flag(raw)
        if value is None:
            errors.append((name, "must be yes or no (1/0, true/false, بله/خیر)", raw))
            return False
        return value

    def duplicate(self, key, row_number: int, field: str, value: str, errors: list) -> bool:
        first = self.seen.setdefault(key, row_number)
        if first != row_number:
            errors.append((field, f"appears twice in this file (first on row {first})", value))
            return True
        return False

    def cached_clean(self, name: str, raw: object) -> tuple[dict, list]:
        """person_clean on one field, memoised: names, dates and flags repeat across a large file."""
        key = (name, raw)
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) > 500_000:
                self._cache.clear()
            hit = self._cache[key] = person_clean({name: raw}, today=self.today)
        return hit


class PersonRowCleaner(_RowCleaner):
    kind = ImportJob.Kind.PERSONS
    MEMO_FIELDS = ("first_name", "last_name", "father_name", "sex", "birth_date")

    def __init__(self, header: list[str], **kwargs):
        super().__init__(**kwargs)
        cols = self.cols = _Columns(header, PERSON_COLUMNS)
        if not cols.present("first_name") or not cols.present("last_name"):
            raise ImportFileError("the header must have the columns first_name and last_name")
        if not cols.present("national_code") and not cols.present("record_id"):
            raise ImportFileError(
                "the header must have a national_code or a record_id column (the natural key)"
            )
        if not cols.present("post_code") and self.default_post is None:
            raise ImportFileError(
                "the header has no post_code column; add it, or import into one health post"
            )
        # Fields cleaned through person_clean one at a time and memoised (names, dates and sexes repeat);
        # first and last name always, so a missing one is reported as required.
        self.name_fields = [
            (name, cols[name])
            for name in ("first_name", "last_name", "father_name", "sex")
            if cols[name] >= 0
        ]
        self.name_values = operator.itemgetter(*(index for _, index in self.name_fields))
        self.name_memo: dict = {}
        self.i_birth = cols["birth_date"]
        self.memo: dict = {name: {} for name in (*self.MEMO_FIELDS, "relation_to_head")}
        self.flag_cols = [(n, cols[n]) for n in ("chronic_disease", "disability", "pregnant") if cols[n] >= 0]
        self.i_code, self.i_mobile, self.i_rid = cols["national_code"], cols["mobile"], cols["record_id"]
        self.i_post, self.i_household, self.i_relation = (
            cols["post_code"],
            cols["household_id"],
            cols["relation_to_head"],
        )
        fields = [f.attname for f in Person._meta.concrete_fields]
        self.pos = {name: i for i, name in enumerate(fields)}
        self.base_row = [f.get_default() for f in Person._meta.concrete_fields]
        self._keys_cache: dict = {}

    def new_batch(self, size: int) -> None:
        super().new_batch(size)
        for name, value in (
            ("created_at", self.now),
            ("modified_at", self.now),
            ("created_by_id", self.actor_id),
            ("modified_by_id", self.actor_id),
        ):
            self.base_row[self.pos[name]] = value

    def keys(self, first: str, last: str) -> dict:
        hit = self._keys_cache.get((first, last))
        if hit is None:
            if len(self._keys_cache) > 500_000:
                self._keys_cache.clear()
            hit = self._keys_cache[(first, last)] = person_keys({"first_name": first, "last_name": last})
        return hit

    def _names(self, names) -> tuple[dict, list]:
        data, errors = {}, []  # first_name and last_name are always there (the header is checked): a tuple
        for (name, _), raw in zip(self.name_fields, names, strict=True):
            clean, field_errors = self._memo(name, raw)
            data.update(clean)
            errors.extend((e["field"], e["message"], raw) for e in field_errors)
        if not errors:
            data.update(self.keys(data["first_name"], data["last_name"]))
        if len(self.name_memo) > 200_000:
            self.name_memo.clear()
        self.name_memo[names] = (data, errors)
        return data, errors

    def _memo(self, name: str, raw: object) -> tuple[dict, list]:
        memo = self.memo[name]
        hit = memo.get(raw)
        if hit is None:
            if len(memo) > 200_000:
                memo.clear()
            hit = memo[raw] = person_clean({name: raw}, today=self.today)
        return hit

    def natural_key_only(self, number: int, values: list) -> None:
        """On resume: remember the keys of rows committed before, so duplicates across the restart are caught."""
        if self.i_code >= 0 and values[self.i_code] not in ("", None):
            clean, errors = person_clean({"national_code": values[self.i_code]})
            if not errors:
                self.seen.setdefault(("n", clean["national_code"]), number)
        if self.i_rid >= 0:
            rid = self.text_key(values[self.i_rid])[:64]
            if rid:
                self.seen.setdefault(("r", rid), number)

    def clean(self, number: int, values: list, errors: list):
        # Names and sex: one memo on the combination, which carries the search keys too.
        names = self.name_values(values)
        hit = self.name_memo.get(names) or self._names(names)
        data = dict(hit[0])
        if hit[1]:
            errors.extend(hit[1])
        if self.i_birth >= 0:
            raw = values[self.i_birth]
            clean, field_errors = self.memo["birth_date"].get(raw) or self._memo("birth_date", raw)
            data.update(clean)
            errors.extend((e["field"], e["message"], raw) for e in field_errors)
        code = values[self.i_code] if self.i_code >= 0 else ""
        mobile = values[self.i_mobile] if self.i_mobile >= 0 else ""
        if canonical_national_code(code) and canonical_mobile(mobile):
            # Already in the form person_clean returns (it would hand them back unchanged): skip the work.
            if code:
                data["national_code"] = code
            if mobile:
                data["mobile"] = mobile
        else:
            ident = {
                name: raw
                for name, raw in (("national_code", code), ("mobile", mobile))
                if raw not in ("", None)
            }
            clean, field_errors = person_clean(ident)
            data.update(clean)
            for err in field_errors:
                errors.append((err["field"], err["message"], ident.get(err["field"], "")))
        if self.i_relation >= 0:
            raw = values[self.i_relation]
            text = normalize_text(raw).lower()
            clean, field_errors = self._memo("relation_to_head", RELATION_WORDS.get(text, text))
            data.update(clean)
            errors.extend((e["field"], e["message"], raw) for e in field_errors)
        for name, index in self.flag_cols:
            data[name] = self.flag(name, values[index], errors)
        record_id = self.text_key(values[self.i_rid])[:64] if self.i_rid >= 0 else ""
        national_code = data.get("national_code")
        if not national_code and not record_id and not any(e[0] == "national_code" for e in errors):
            errors.append(
                ("national_code", "a national code or a record_id is needed to identify the person", "")
            )
        post = self.post(values[self.i_post] if self.i_post >= 0 else "", errors)
        household_ext = self.text_key(values[self.i_household])[:64] if self.i_household >= 0 else ""
        # Duplicates are judged on valid keys, whatever else is wrong with the row.
        if national_code:
            self.duplicate(("n", national_code), number, "national_code", national_code, errors)
        if record_id:
            self.duplicate(("r", record_id), number, "record_id", record_id, errors)
        if errors:
            return None
        if self.sqlite and data.get("birth_date") is not None:
            data["birth_date"] = data["birth_date"].isoformat()
        data["id"] = next(self._ids)
        data["org_unit_id"], data["org_path"] = post
        data["external_id"] = record_id or None
        row = self.base_row.copy()
        pos = self.pos
        for name, value in data.items():
            row[pos[name]] = value
        return (number, national_code, record_id, household_ext, data.get("relation_to_head", ""), row)


class HouseholdRowCleaner(_RowCleaner):
    kind = ImportJob.Kind.HOUSEHOLDS

    def __init__(self, header: list[str], **kwargs):
        super().__init__(**kwargs)
        self.cols = _Columns(header, HOUSEHOLD_COLUMNS)
        if not self.cols.present("household_id"):
            raise ImportFileError("the header must have a household_id column (the natural key)")
        if not self.cols.present("post_code") and self.default_post is None:
            raise ImportFileError(
                "the header has no post_code column; add it, or import into one health post"
            )
        self.fields = [f.attname for f in Household._meta.concrete_fields]
        self.defaults = {f.attname: f.get_default() for f in Household._meta.concrete_fields}

    def natural_key_only(self, number: int, values: list) -> None:
        ext = self.text_key(values[self.cols["household_id"]])[:64]
        if ext:
            self.seen.setdefault(("h", ext), number)

    def clean(self, number: int, values: list, errors: list):
        cols = self.cols
        ext = self.text_key(values[cols["household_id"]])
        if not ext:
            errors.append(("household_id", "is required", ""))
        elif len(ext) > 64:
            errors.append(("household_id", "longer than 64 characters", ext))
        else:
            self.duplicate(("h", ext), number, "household_id", ext, errors)
        post = self.post(values[cols["post_code"]] if cols["post_code"] >= 0 else "", errors)
        address = normalize_text(values[cols["address"]]) if cols["address"] >= 0 else ""
        if len(address) > 500:
            errors.append(("address", "longer than 500 characters", address))
        phone = ""
        if cols["phone"] >= 0 and values[cols["phone"]] not in ("", None):
            raw = values[cols["phone"]]
            try:
                phone = normalize_mobile(raw)
            except InvalidIdentifier:
                phone = normalize_digits(raw)
                if not 8 <= len(phone) <= 12:
                    errors.append(("phone", "is not a phone number", raw))
        flags = {
            name: self.flag(name, values[cols[name]], errors)
            for name in ("female_headed", "lost_income")
            if cols[name] >= 0
        }
        if errors:
            return None
        data = {
            **flags,
            "id": next(self._ids),
            "created_at": self.now,
            "modified_at": self.now,
            "created_by_id": self.actor_id,
            "modified_by_id": self.actor_id,
            "org_unit_id": post[0],
            "org_path": post[1],
            "external_id": ext,
            "address": address,
            "phone": phone,
        }
        row = [data[name] if name in data else self.defaults[name] for name in self.fields]
        return (number, ext, row)


_CANONICAL_CODE = re.compile(r"[0-9]{10}")
_CANONICAL_MOBILE = re.compile(r"09[0-9]{9}")


def canonical_national_code(value: object) -> bool:
    """True when `value` is empty or already what normalize_national_code returns for it (10 ASCII digits,
    not one digit repeated, check digit right). Anything else goes through person_clean for its verdict and
    message; test_import checks that the two agree."""
    if value in ("", None):
        return True
    return (
        isinstance(value, str)
        and _CANONICAL_CODE.fullmatch(value) is not None
        and value.count(value[0]) != 10
        and national_code_checksum_ok(value)
    )


def canonical_mobile(value: object) -> bool:
    """True when `value` is empty or already what normalize_mobile returns for it (09 and 9 ASCII digits)."""
    return value in ("", None) or (isinstance(value, str) and _CANONICAL_MOBILE.fullmatch(value) is not None)


def _uuid4_hex(n: int) -> list[str]:
    """n random (version 4) UUIDs as 32 hex digits, the form both databases take; one urandom call per batch."""
    raw = bytearray(os.urandom(16 * n))
    raw[6::16] = bytes((b & 0x0F) | 0x40 for b in raw[6::16])
    raw[8::16] = bytes((b & 0x3F) | 0x80 for b in raw[8::16])
    text = raw.hex()
    return [text[i : i + 32] for i in range(0, 32 * n, 32)]


def _prepared_batches(
    cleaner: _RowCleaner, records: Iterator[tuple[int, list]], *, skip: int, batch_size: int, number: int
) -> Iterator[PreparedBatch]:
    """Pure Python (no database): read, clean and group rows. Runs in the reader process."""
    for _ in range(skip):
        try:
            row_number, values = next(records)
        except StopIteration:
            return
        cleaner.natural_key_only(row_number, values)
    batch = PreparedBatch(number=number)
    cleaner.new_batch(batch_size)
    for row_number, values in records:
        if batch.rows == 0:
            batch.first_row = row_number
        batch.rows += 1
        batch.last_row = row_number
        errors: list = []
        candidate = cleaner.clean(row_number, values, errors)
        if candidate is None:
            batch.invalid += 1
            batch.errors.extend((row_number, field, message, value) for field, message, value in errors)
        else:
            batch.candidates.append(candidate)
        if batch.rows >= batch_size:
            yield batch
            number += 1
            batch = PreparedBatch(number=number)
            cleaner.new_batch(batch_size)
    if batch.rows:
        yield batch


def _prefetch_in_process(make_iterator: Callable[[], Iterator], depth: int = 3) -> Iterator:
    """Run the iterator in a forked reader process, `depth` items ahead: reading and cleaning (pure Python)
    then use another core while this process and the database write. Errors surface here. The reader never
    touches the database connection it inherits, and leaves with os._exit (multiprocessing's way), so the
    connection is not closed under us."""
    context = multiprocessing.get_context("fork")
    items = context.Queue(maxsize=depth)

    def produce() -> None:
        try:
            for item in make_iterator():
                items.put(item)
            items.put(None)
        except BaseException as exc:
            try:
                pickle.dumps(exc)
            except Exception:
                exc = RuntimeError(f"{exc.__class__.__name__}: {exc}")
            items.put(_Failure(exc))

    reader = context.Process(target=produce, name="mahalle-import-reader", daemon=True)
    reader.start()
    try:
        while True:
            try:
                item = items.get(timeout=1)
            except queue.Empty:
                if not reader.is_alive():
                    raise RuntimeError(
                        f"the import reader process stopped (exit code {reader.exitcode})"
                    ) from None
                continue
            if item is None:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        if reader.is_alive():
            reader.terminate()
        reader.join(timeout=5)
        items.close()


def _reader_mode(requested: str | None) -> str:
    mode = requested or getattr(settings, "MAHALLE_IMPORT_READER", "process")
    if mode == "process" and "fork" not in multiprocessing.get_all_start_methods():
        return "inline"
    return mode


@dataclasses.dataclass
class _Failure:
    exc: BaseException


# --- writing ----------------------------------------------------------------------------------------------


def _quoted(model) -> tuple[str, list[str]]:
    quote = connection.ops.quote_name
    return quote(model._meta.db_table), [quote(f.column) for f in model._meta.concrete_fields]


class _BulkInserter:
    """Insert rows already in the driver's terms (concrete-field order) as fast as the backend allows:
    COPY on PostgreSQL, executemany on SQLite. Table and column names come from the model's meta, quoted."""

    def __init__(self, model):
        self.table, columns = _quoted(model)
        self.columns = ", ".join(columns)
        self.placeholders = ", ".join(["%s"] * len(columns))

    def insert(self, rows: list[list]) -> None:
        if not rows:
            return
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {self.table} ({self.columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                sql = f"INSERT INTO {self.table} ({self.columns}) VALUES ({self.placeholders})"  # noqa: S608
                cursor.executemany(sql, rows)


def _lookup(model, key: str, values: list, columns: tuple[str, ...]) -> list[tuple]:
    """Rows of `model` whose `key` column is one of `values`: one query per chunk, no ORM per value."""
    if not values:
        return []
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    selected = ", ".join(quote(model._meta.get_field(c).column) for c in (key, *columns))
    key = model._meta.get_field(key).column
    found: list = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT {selected} FROM {table} WHERE {quote(key)} = ANY(%s)", [values])  # noqa: S608
            return cursor.fetchall()
        size = min(5000, connection.features.max_query_params or 999)
        for start in range(0, len(values), size):
            chunk = values[start : start + size]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"SELECT {selected} FROM {table} WHERE {quote(key)} IN ({marks})", chunk)  # noqa: S608
            found.extend(cursor.fetchall())
    return found


class _PersonWriter:
    def __init__(self):
        self.inserter = _BulkInserter(Person)
        fields = [f.attname for f in Person._meta.concrete_fields]
        self.household_index = fields.index("household_id")
        self.org_unit_index = fields.index("org_unit_id")
        self.id_index = fields.index("id")

    def write(self, batch: PreparedBatch) -> tuple[int, int]:
        candidates = batch.candidates
        existing_codes = {
            row[0] for row in _lookup(Person, "national_code", [c[1] for c in candidates if c[1]], ())
        }
        existing_rids = dict(
            _lookup(Person, "external_id", [c[2] for c in candidates if c[2]], ("national_code",))
        )
        households = {
            ext: [pk, unit, head]
            for ext, pk, unit, head in _lookup(
                Household, "external_id", list({c[3] for c in candidates if c[3]}), ("id", "org_unit", "head")
            )
        }
        new_rows, heads, existing = [], [], 0
        for number, code, rid, household_ext, relation, row in candidates:
            if (code and code in existing_codes) or (not code and rid in existing_rids):
                existing += 1
                continue
            error = None
            if code and rid in existing_rids:
                error = (
                    "record_id",
                    f"already used by another person (national code {existing_rids[rid] or 'none'})",
                )
            elif household_ext:
                household = households.get(household_ext)
                if household is None:
                    error = ("household_id", "no household has this id; import the households file first")
                elif household[1] != row[self.org_unit_index]:
                    error = ("household_id", "the household belongs to another health post")
                else:
                    row[self.household_index] = household[0]
                    if relation == Relation.HEAD and household[2] is None:
                        household[2] = row[self.id_index]
                        heads.append((household[2], household[0]))
            if error:
                batch.errors.append(
                    (number, error[0], error[1], rid if error[0] == "record_id" else household_ext)
                )
                batch.invalid += 1
                continue
            new_rows.append(row)
        self.inserter.insert(new_rows)
        if heads:
            table = connection.ops.quote_name(Household._meta.db_table)
            cast = "::uuid" if connection.vendor == "postgresql" else ""
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {table} SET head_id = %s{cast} WHERE id = %s{cast} AND head_id IS NULL",  # noqa: S608
                    [(str(person), str(household)) for person, household in heads],
                )
        return len(new_rows), existing


class _HouseholdWriter:
    def __init__(self):
        self.inserter = _BulkInserter(Household)

    def write(self, batch: PreparedBatch) -> tuple[int, int]:
        existing_ext = {
            row[0] for row in _lookup(Household, "external_id", [c[1] for c in batch.candidates], ())
        }
        new_rows = [row for _, ext, row in batch.candidates if ext not in existing_ext]
        self.inserter.insert(new_rows)
        return len(new_rows), len(batch.candidates) - len(new_rows)


# --- services ---------------------------------------------------------------------------------------------


def may_import(*, actor, org_unit: OrgUnit) -> bool:
    """Import roles, into a unit inside the actor's jurisdiction. No actor means the server's operator."""
    if actor is None:
        return True
    return actor.has_role(IMPORT_ROLES) and org_unit_in_jurisdiction(user=actor, unit=org_unit)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@transaction.atomic
def import_job_create(
    *, actor, kind: str, org_unit: OrgUnit, file_path: str | Path, file_name: str = "", file_sha: str = ""
) -> ImportJob:
    """Register an import of `file_path` into `org_unit`'s subtree; import_job_run does the work.

    `actor` None is the server's operator at the console (the CLI without --user)."""
    if kind not in ImportJob.Kind.values:
        raise ValidationFailed("unknown import kind", [field_error("kind", "must be households or persons")])
    if not may_import(actor=actor, org_unit=org_unit):
        raise PermissionDenied("you may not import records into this org unit")
    path = Path(file_path).resolve()
    if not path.is_file():
        raise ValidationFailed("the file does not exist", [field_error("file", f"no file at {path}")])
    job = ImportJob.objects.create(
        kind=kind,
        file_name=file_name or path.name,
        file_path=str(path),
        file_sha256=file_sha or file_sha256(path),
        org_unit=org_unit,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="create",
        obj=job,
        org_unit=org_unit,
        details={"kind": kind, "file": job.file_name, "sha256": job.file_sha256},
    )
    return job


def _fail(job: ImportJob, message: str) -> None:
    job.status = ImportJob.Status.FAILED
    job.message = message[:2000]
    job.finished_at = timezone.now()
    ImportJob.objects.filter(pk=job.pk).update(
        status=job.status, message=job.message, finished_at=job.finished_at
    )


def import_job_run(
    *,
    job_id: int,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    batch_hook: Callable[[ImportJob, PreparedBatch], None] | None = None,
    reader: str | None = None,
) -> ImportJob:
    """Run or resume an import job; idempotent (a done job is returned as is, a stopped one continues
    after rows_done). File-level problems fail the job with a message. Any other error also marks it failed
    (resumable) and is raised. `progress(n)` is told of each committed batch; `batch_hook` runs inside each
    batch's transaction (tests use it to simulate a crash)."""
    job = ImportJob.objects.select_related("org_unit", "created_by").get(pk=job_id)
    if job.status == ImportJob.Status.DONE:
        return job
    actor = job.created_by
    if not may_import(actor=actor, org_unit=job.org_unit):
        _fail(job, "the user who started this import may no longer import into this org unit")
        return job
    batch_size = max(1, batch_size or settings.MAHALLE_IMPORT_BATCH_SIZE)
    job.status, job.message = ImportJob.Status.RUNNING, ""
    ImportJob.objects.filter(pk=job.pk).update(status=job.status, message="")
    try:
        source = Source.open(job.file_path)
        job.encoding = source.encoding
        ImportJob.objects.filter(pk=job.pk).update(encoding=job.encoding)
        if job.rows_done and file_sha256(source.path) != job.file_sha256:
            raise ImportFileError("the file changed since this import started; start a new import with it")
        total = sum(1 for _ in source.records())  # the pre-scan: the whole file parses, or nothing is written
        if total == 0:
            raise ImportFileError("the file has a header but no rows")
        job.total_rows = total
        ImportJob.objects.filter(pk=job.pk).update(total_rows=total)
        cleaner_class = PersonRowCleaner if job.kind == ImportJob.Kind.PERSONS else HouseholdRowCleaner
        posts = {
            code: (pk, path)
            for code, pk, path in OrgUnit.objects.filter(level=Level.POST).values_list("code", "pk", "path")
        }
        cleaner = cleaner_class(
            source.header,
            job=job,
            posts=posts,
            vendor=connection.vendor,
            actor_id=actor.pk if actor else None,
            today=dt.date.today(),
            adapt_datetime=connection.ops.adapt_datetimefield_value,
        )
        writer = _PersonWriter() if job.kind == ImportJob.Kind.PERSONS else _HouseholdWriter()
        first_batch = -(-job.rows_done // batch_size) + 1

        def make_batches() -> Iterator[PreparedBatch]:
            return _prepared_batches(
                cleaner, source.records(), skip=job.rows_done, batch_size=batch_size, number=first_batch
            )

        batches = make_batches() if _reader_mode(reader) == "inline" else _prefetch_in_process(make_batches)
        for batch in batches:
            _commit_batch(job, batch, writer, actor, batch_hook)
            if progress:
                progress(batch.rows)
    except ImportFileError as exc:
        _fail(job, str(exc))
        return job
    except ImportConflict:
        job.refresh_from_db()  # another worker has it; leave its status alone
        return job
    except Exception as exc:
        _fail(
            job,
            f"stopped after {job.rows_done} rows ({exc.__class__.__name__}: {exc}); run the job again to resume",
        )
        raise
    job.status, job.finished_at = ImportJob.Status.DONE, timezone.now()
    ImportJob.objects.filter(pk=job.pk).update(status=job.status, finished_at=job.finished_at)
    return job


def _commit_batch(job: ImportJob, batch: PreparedBatch, writer, actor, batch_hook) -> None:
    with transaction.atomic():
        current = ImportJob.objects.select_for_update().values_list("rows_done", flat=True).get(pk=job.pk)
        if current != job.rows_done:
            raise ImportConflict("another worker is running this import")
        created, existing = writer.write(batch)
        ImportRowError.objects.bulk_create(
            [
                ImportRowError(
                    job_id=job.pk, row_number=row, field=field, message=message[:500], value=_truncate(value)
                )
                for row, field, message, value in batch.errors
            ],
            batch_size=1000,
        )
        audit_record(
            actor=actor,
            action="import",
            obj=job,
            org_unit=job.org_unit,
            details={
                "job": job.pk,
                "kind": job.kind,
                "batch": batch.number,
                "rows": [batch.first_row, batch.last_row],
                "created": created,
                "existing": existing,
                "invalid": batch.invalid,
            },
        )
        counts = {
            "rows_done": job.rows_done + batch.rows,
            "rows_created": job.rows_created + created,
            "rows_existing": job.rows_existing + existing,
            "rows_invalid": job.rows_invalid + batch.invalid,
        }
        ImportJob.objects.filter(pk=job.pk).update(**counts)
        if batch_hook:
            batch_hook(job, batch)
    for name, value in counts.items():  # only once the batch is committed
        setattr(job, name, value)


def import_job_summary(job: ImportJob, seconds: float | None = None) -> dict:
    summary = {
        "job": job.pk,
        "kind": job.kind,
        "status": job.status,
        "file": job.file_name,
        "org_unit": job.org_unit.code,
        "encoding": job.encoding,
        "total_rows": job.total_rows,
        "rows": job.rows_done,
        "created": job.rows_created,
        "existing": job.rows_existing,
        "invalid": job.rows_invalid,
        "percent": import_job_percent(job),
        "message": job.message,
    }
    if seconds is not None:
        summary["seconds"] = round(seconds, 3)
    return summary


def import_job_percent(job: ImportJob) -> float:
    if job.status == ImportJob.Status.DONE:
        return 100.0
    if not job.total_rows:
        return 0.0
    return round(100.0 * job.rows_done / job.total_rows, 1)


# --- selectors --------------------------------------------------------------------------------------------


def import_jobs_visible(*, user):
    """Jobs whose org unit lies in the user's jurisdiction (their row errors carry personal data)."""
    paths = personal_data_paths(user=user)
    if not paths:
        return ImportJob.objects.none()
    from django.db.models import Q

    query = Q()
    for path in paths:
        query |= Q(org_unit__path__prefix=path)
    return ImportJob.objects.filter(query).select_related("org_unit")


def import_job_detail(*, user, job_id: int) -> ImportJob:
    job = import_jobs_visible(user=user).filter(pk=job_id).first()
    if job is None:
        raise NotFound("no such import job")
    return job


# --- uploads (API) ----------------------------------------------------------------------------------------


class UploadTooLarge(Exception):
    pass


def import_upload_store(*, upload) -> tuple[Path, str]:
    """Stream an uploaded file to MEDIA_ROOT/imports/<sha256>.<csv|xlsx>; returns (path, sha256).

    The same content uploaded twice lands on the same file. Over MAHALLE_MAX_IMPORT_BYTES: UploadTooLarge,
    and nothing is kept."""
    limit = settings.MAHALLE_MAX_IMPORT_BYTES
    if upload.size is not None and upload.size > limit:
        raise UploadTooLarge(f"the file is {upload.size:,} bytes, over the limit of {limit:,} bytes")
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"upload-{uuid.uuid4().hex}.part"
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        with partial.open("wb") as handle:
            for chunk in upload.chunks():
                size += len(chunk)
                if size > limit:
                    raise UploadTooLarge(f"the file is over the limit of {limit:,} bytes")
                if len(head) < 4:
                    head += chunk[:4]
                digest.update(chunk)
                handle.write(chunk)
        sha = digest.hexdigest()
        final = folder / f"{sha}.{'xlsx' if head.startswith(XLSX_MAGIC) else 'csv'}"
        partial.replace(final)
    finally:
        partial.unlink(missing_ok=True)
    return final, sha


def import_job_submit(*, actor, kind: str, org_unit_code: str, upload) -> ImportJob:
    """The upload path: check, store the file, create the job, and queue its run once the job is committed."""
    from .tasks import run_import_job

    org_unit = OrgUnit.objects.filter(code=normalize_text(org_unit_code)).first()
    if org_unit is None:
        raise ValidationFailed("unknown org unit", [field_error("org_unit", "no org unit has this code")])
    if kind not in ImportJob.Kind.values:
        raise ValidationFailed("unknown import kind", [field_error("kind", "must be households or persons")])
    if not may_import(actor=actor, org_unit=org_unit):
        raise PermissionDenied("you may not import records into this org unit")
    path, sha = import_upload_store(upload=upload)
    with transaction.atomic():
        job = import_job_create(
            actor=actor,
            kind=kind,
            org_unit=org_unit,
            file_path=path,
            file_name=Path(upload.name or path.name).name[:255],
            file_sha=sha,
        )
        transaction.on_commit(lambda: run_import_job.enqueue(job.pk))
    return job
