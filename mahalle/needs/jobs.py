"""The needs registry's long runs, each outside any one transaction on purpose, writing through the services:

- reading an agency list (`agency_list_read`): the needs use of the one file-ingest driver (core.ingest.IngestRun,
  the registry import's too). The file reading and the field cleaning are the registry import's
  (registry.imports.Source, registry.rules.person_clean): one set of rules everywhere. Each batch is one
  transaction: its rows (services.source_records_import, with the batch's audit event), its row errors and the
  list's progress; a stop leaves whole batches, and running it again resumes after them.
- linking a list to the registry (`agency_list_link`): the pure engine (needs.linkage) runs on a DataFrame
  export outside any transaction; everything it leads to is then written in ONE transaction
  (services.agency_list_link_write). A run stopped half-way leaves the registry exactly as it was.

Both keep their job's status on the list (read: pending → running → done/failed; link: linking → linked/failed)
so the list page can follow them. The tasks (needs.tasks) run them in the background; the CLI and benchmarks
call them directly.

A row is kept unless it has no record_id, no name at all, or repeats a record_id of the same file; a bad
national code, mobile or date is reported on the row (kept=True) and the row is kept with that field as
received, so linkage still sees it (a national code with one wrong digit still helps).
"""

import datetime as dt
import json
from collections.abc import Callable

from mahalle.core.identifiers import national_code_checksum_ok
from mahalle.core.ingest import BatchResult, ImportFileError, IngestRun
from mahalle.core.persian import normalize_digits, normalize_text
from mahalle.geo.models import Level, OrgUnit
from mahalle.registry.imports import Source
from mahalle.registry.rules import person_clean

from .models import AgencyList, AgencyListRowError, NeedKind, SourceRecord
from .rules import LINKED, LIST_COLUMNS, NEED_WORDS, max_rows, thresholds
from .selectors import candidate_scope, may_upload, records_frame, registry_frame, require_link
from .services import agency_list_link_write, source_records_import

BATCH_SIZE = 2000


# --- reading a list -------------------------------------------------------------------------------------------


class _RowReader:
    def __init__(self, agency_list: AgencyList, header: list[str]):
        self.cols = {name: header.index(name) for name in LIST_COLUMNS if name in header}
        self.header = header
        if "record_id" not in self.cols:
            raise ImportFileError("the header must have a record_id column (the agency's id of the person)")
        if "first_name" not in self.cols and "last_name" not in self.cols:
            raise ImportFileError("the header must have the columns first_name and last_name")
        self.agency_list = agency_list
        self.scope = agency_list.org_unit
        self.posts: dict = {}
        self.seen: dict = {}
        self.today = dt.date.today()

    def value(self, values: list, name: str) -> object:
        index = self.cols.get(name)
        return "" if index is None else values[index]

    def raw(self, values: list) -> dict:
        return {
            name: (v.isoformat() if isinstance(v, dt.date) else str(v))
            for name, v in zip(self.header, values, strict=False)
            if name
        }

    def post(self, code: str, errors: list):
        if not code:
            return self.scope
        if code not in self.posts:
            unit = OrgUnit.objects.filter(code=code, level=Level.POST).first()
            self.posts[code] = unit if unit is not None and unit.is_within(self.scope) else None
        unit = self.posts[code]
        if unit is None:
            errors.append(
                ("post_code", f"no health post with this code inside {self.scope.code}", code, True)
            )
            return self.scope
        return unit

    def clean(self, number: int, values: list) -> tuple[dict | None, list]:
        """(field values of a SourceRecord or None if the row cannot be kept, [(field, message, value, kept)])."""
        errors: list = []
        record_id = normalize_text(self.value(values, "record_id"))[:64]
        if not record_id:
            return None, [("record_id", "is required (the agency's own id of the person)", "", False)]
        first = self.seen.setdefault(record_id, number)
        if first != number:
            return None, [
                ("record_id", f"appears twice in this file (first on row {first})", record_id, False)
            ]
        data: dict = {"record_id": record_id, "row_number": number, "raw": self.raw(values)}
        for name in ("first_name", "last_name", "father_name"):
            clean, field_errors = person_clean({name: self.value(values, name)}, today=self.today)
            data[name] = clean.get(name, "")[:100]
            errors.extend(
                (e["field"], e["message"], self.value(values, name), True)
                for e in field_errors
                if e["message"] != "is required"
            )
        if not data["first_name"] and not data["last_name"]:
            return None, [("last_name", "a row needs a first or last name", "", False)]
        raw_code = self.value(values, "national_code")
        if raw_code not in ("", None):
            clean, field_errors = person_clean({"national_code": raw_code})
            if field_errors:
                digits = normalize_digits(raw_code)[:16]
                data["national_code"] = (
                    digits.zfill(10) if digits.isdigit() and 8 <= len(digits) < 10 else digits
                )
                data["national_code_valid"] = False
                errors.extend((e["field"], e["message"], raw_code, True) for e in field_errors)
            else:
                data["national_code"] = clean["national_code"]
                data["national_code_valid"] = national_code_checksum_ok(clean["national_code"])
        for name in ("mobile", "sex", "birth_date"):
            raw_value = self.value(values, name)
            if raw_value in ("", None):
                continue
            clean, field_errors = person_clean({name: raw_value}, today=self.today)
            if field_errors:
                errors.extend((e["field"], e["message"], raw_value, True) for e in field_errors)
                if name == "mobile":
                    data["mobile"] = normalize_digits(raw_value)[:16]
                continue
            data.update(
                {k: v for k, v in clean.items() if k != "birth_date_precision" or clean.get("birth_date")}
            )
        for name, limit in (
            ("province", 100),
            ("county", 100),
            ("address", 500),
            ("household_ref", 64),
            ("support", 64),
        ):
            data[name] = normalize_text(self.value(values, name))[:limit]
        raw_need = normalize_text(self.value(values, "need_kind"))
        if raw_need:
            kind = NEED_WORDS.get(raw_need.lower()) or NEED_WORDS.get(raw_need)
            if kind is None:
                errors.append(
                    (
                        "need_kind",
                        f"unknown need; stored as 'other' ({', '.join(NeedKind.values)})",
                        raw_need,
                        True,
                    )
                )
                kind = NeedKind.OTHER
            data["need_kind"] = kind
        unit = self.post(normalize_text(self.value(values, "post_code")), errors)
        data["org_unit"], data["org_path"] = unit, unit.path
        return data, errors


class AgencyListRun(IngestRun):
    """An agency list on the file-ingest driver: its rows cleaned by _RowReader, written by
    services.source_records_import (which writes the batch's audit event)."""

    model, row_error_model = AgencyList, AgencyListRowError
    related = ("org_unit", "agency", "created_by")
    open_source = staticmethod(Source.open)
    refused_message = "the user who uploaded this list may no longer upload into this org unit"
    changed_file_message = "the file changed since this list was started; upload it again"
    resume_hint = "run it again to resume"

    def may_run(self, job: AgencyList) -> bool:
        return may_upload(actor=self.actor, agency=job.agency, org_unit=job.org_unit)

    def max_rows(self) -> int:
        return max_rows()

    def too_many_rows(self, limit: int) -> str:
        return f"the file has more than {limit:,} rows, the limit of one list; split it into smaller files"

    def opened(self, job: AgencyList, source) -> None:
        """The encoding is recorded with the total, once the file passed its pre-scan and header checks."""

    def counted(self, job: AgencyList, source, total: int) -> None:
        self.prepare(job, source)
        self.record(job, total_rows=total, encoding=source.encoding)

    def prepare(self, job: AgencyList, source) -> None:
        self.reader = _RowReader(job, source.header)

    def skip_row(self, number: int, values: list) -> None:
        self.reader.seen.setdefault(normalize_text(self.reader.value(values, "record_id"))[:64], number)

    def write(self, job: AgencyList, batch: list) -> BatchResult:
        rows, errors, invalid = [], [], 0
        for number, values in batch:
            data, row_errors = self.reader.clean(number, values)
            kept = data is not None
            if not kept:
                invalid += 1
            errors += [
                AgencyListRowError(
                    agency_list_id=job.pk,
                    row_number=number,
                    field=field,
                    message=message[:500],
                    value=str(value)[:200],
                    kept=kept_flag and kept,
                    raw={} if kept else self.reader.raw(values),
                )
                for field, message, value, kept_flag in row_errors
            ]
            if kept:
                rows.append(data)
        created, updated = source_records_import(
            actor=self.actor, agency_list=job, rows=rows, span=(batch[0][0], batch[-1][0]), invalid=invalid
        )
        return BatchResult(
            counts={
                "rows_created": created,
                "rows_updated": updated,
                "rows_existing": len(rows) - created - updated,
                "rows_invalid": invalid,
            },
            row_errors=errors,
        )

    def audit(self, job: AgencyList, batch: list, result: BatchResult) -> None:
        """Written by services.source_records_import, in this batch's transaction."""


def agency_list_read(
    *,
    agency_list_id: int,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    batch_hook: Callable | None = None,
) -> AgencyList:
    """Read (or resume reading) an uploaded list into SourceRecords; idempotent. The whole file is pre-scanned
    first (encoding, structure, header, row limit): a file that fails there writes nothing.

    It commits item by item: each batch is one transaction with its rows, row errors, audit event and progress."""
    return AgencyListRun(batch_size=batch_size, progress=progress, batch_hook=batch_hook).run(agency_list_id)


# --- linking a list ---------------------------------------------------------------------------------------------


def _engine_pairs(new, registry, auto: float, review: float):
    from .linkage.engine import LinkConfig, link_incremental  # heavy (splink): loaded only by a linkage run

    if len(new) == 0 or len(registry) == 0:
        return []
    config = LinkConfig(auto_link_threshold=auto, review_threshold=review)
    frame = link_incremental(new, registry, config)
    return [
        (str(row.record_id), str(row.registry_id), float(row.match_probability), _evidence(row.evidence))
        for row in frame.itertuples(index=False)
    ]


def _evidence(value) -> dict:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value or "{}")
    except (TypeError, ValueError):
        return {"raw": str(value)[:500]}
    return parsed if isinstance(parsed, dict) else {"fields": parsed}


def agency_list_link(*, actor, agency_list: AgencyList, pairs_hook=None) -> dict:
    """Link the list's unlinked records to the registry. Returns the counts. `pairs_hook(pairs)` (tests) sees
    the engine's answer before it is written.

    It commits item by item: the run's status ("linking", or "failed" with its message) on its own, then all
    the run writes, with its audit event, in one transaction (services.agency_list_link_write)."""
    require_link(actor, agency_list)
    auto, review = thresholds()
    AgencyList.objects.filter(pk=agency_list.pk).update(
        link_status=AgencyList.LinkStatus.LINKING, link_message=""
    )
    try:
        records = list(
            SourceRecord.objects.filter(agency_list=agency_list)
            .exclude(link_status__in=LINKED)
            .select_related("org_unit")
            .order_by("row_number")
        )
        pairs = _engine_pairs(
            records_frame(records), registry_frame(candidate_scope(agency_list.org_unit)), auto, review
        )
        if pairs_hook:
            pairs = pairs_hook(pairs)
        counts = agency_list_link_write(
            actor=actor, agency_list=agency_list, records=records, pairs=pairs, auto=auto, review=review
        )
    except Exception as exc:
        AgencyList.objects.filter(pk=agency_list.pk).update(
            link_status=AgencyList.LinkStatus.FAILED,
            link_message=f"{exc.__class__.__name__}: {exc}"[:2000] + " — nothing was changed; run it again",
        )
        raise
    agency_list.refresh_from_db()
    return counts
