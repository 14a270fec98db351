"""Cleaning the rows of an import: the columns each kind of file has, and the cleaners that turn a row into the
values of one insert (or its row errors). Pure Python, no database: the cleaners run in the reader process.

The field rules are registry.rules.person_clean's, the same as every form and API call; fields that repeat (names,
sexes, dates) are cleaned once and memoised.
"""

import datetime as dt
import operator
import os
import re
from collections.abc import Callable, Iterator

from django.utils import timezone

from mahalle.accounts.selectors import path_within
from mahalle.core.identifiers import national_code_checksum_ok
from mahalle.core.ingest import ImportFileError
from mahalle.core.persian import normalize_text
from mahalle.geo.models import Level
from mahalle.registry.models import Household, ImportJob, Person, Relation
from mahalle.registry.rules import household_phone, person_clean, person_keys

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
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./:-]*")
VALUE_LIMIT = 100  # characters of an offending value kept on its row error


def truncate_value(value: object) -> str:
    """An offending value as its row error keeps it: text, at most VALUE_LIMIT characters."""
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


class RowCleaner:
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
        if not path_within(found[1], (self.scope_path,)):
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


class PersonRowCleaner(RowCleaner):
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
        return (number, national_code, record_id, household_ext, row)


class HouseholdRowCleaner(RowCleaner):
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
            phone, valid = household_phone(raw)
            if not valid:
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
