"""Agency lists: an agency's upload (CSV/XLSX, person-record format plus need_kind and support) read into
SourceRecords, in batches, with progress and per-row errors. The file reading and field cleaning are the
registry import's (registry.importing.Source, registry.services.person_clean): one set of rules everywhere.

A row is kept unless it has no record_id, no name at all, or repeats a record_id of the same file; a bad
national code, mobile or date is reported on the row (kept=True) and the row is kept with that field as
received, so linkage still sees it (a national code with one wrong digit still helps). The natural key is
(agency, record_id): uploading the same file or rows again changes nothing.
"""

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mahalle.accounts.models import IMPORT_ROLES, Role
from mahalle.accounts.selectors import org_unit_in_jurisdiction
from mahalle.audit.services import audit_record
from mahalle.core.errors import PermissionDenied, ValidationFailed, field_error
from mahalle.core.identifiers import national_code_checksum_ok
from mahalle.core.persian import normalize_digits, normalize_text
from mahalle.core.person_record import PERSON_RECORD_COLUMNS
from mahalle.geo.models import Level, OrgUnit
from mahalle.registry.importing import (
    ImportFileError,
    Source,
    file_sha256,
    import_upload_store,
)
from mahalle.registry.services import person_clean

from .models import Agency, AgencyList, AgencyListRowError, NeedKind, SourceRecord

DEFAULT_MAX_ROWS = 1_000_000
BATCH_SIZE = 2000
UPLOAD_ROLES = IMPORT_ROLES | {Role.PARTNER_STAFF}
# Roles that act for any agency in their jurisdiction; the others (partner staff) only for their own agency.
ANY_AGENCY_ROLES = IMPORT_ROLES - {Role.POST_SUPERVISOR}
LIST_COLUMNS = (*PERSON_RECORD_COLUMNS, "need_kind", "support", "household_ref", "post_code")
NEED_WORDS = {
    **{kind.value: kind.value for kind in NeedKind},
    **{str(kind.label): kind.value for kind in NeedKind},
    "income": NeedKind.INCOME_LOSS,
    "غذا": NeedKind.FOOD,
    "معیشتی": NeedKind.FOOD,
    "بسته معیشتی": NeedKind.FOOD,
    "بهداشتی": NeedKind.HYGIENE,
    "بسته بهداشتی": NeedKind.HYGIENE,
    "از دست دادن درآمد": NeedKind.INCOME_LOSS,
    "بیکاری": NeedKind.INCOME_LOSS,
    "فوت سرپرست": NeedKind.BREADWINNER_DIED,
    "تجهیزات پزشکی": NeedKind.MEDICAL_EQUIPMENT,
    "اکسیژن ساز": NeedKind.MEDICAL_EQUIPMENT,
    "مسکن": NeedKind.HOUSING,
    "سایر": NeedKind.OTHER,
}


def max_rows() -> int:
    return int(getattr(settings, "MAHALLE_AGENCY_LIST_MAX_ROWS", DEFAULT_MAX_ROWS))


def agencies_of(user) -> list[int]:
    return list(user.agency_memberships.values_list("agency_id", flat=True))


def may_upload(*, actor, agency: Agency, org_unit: OrgUnit) -> bool:
    """Upload roles, into a unit of the actor's jurisdiction; partner staff and post supervisors only for an
    agency they belong to. No actor: the server's operator at the console."""
    if actor is None:
        return True
    if not actor.has_role(UPLOAD_ROLES) or not org_unit_in_jurisdiction(user=actor, unit=org_unit):
        return False
    return actor.has_role(ANY_AGENCY_ROLES) or agency.pk in agencies_of(actor)


@transaction.atomic
def agency_list_create(
    *, actor, agency: Agency, org_unit: OrgUnit, file_path, file_name: str = "", file_sha: str = ""
) -> AgencyList:
    if not may_upload(actor=actor, agency=agency, org_unit=org_unit):
        raise PermissionDenied("you may not upload lists for this agency into this org unit")
    path = Path(file_path).resolve()
    if not path.is_file():
        raise ValidationFailed("the file does not exist", [field_error("file", f"no file at {path}")])
    agency_list = AgencyList.objects.create(
        agency=agency,
        org_unit=org_unit,
        file_name=(file_name or path.name)[:255],
        file_path=str(path),
        file_sha256=file_sha or file_sha256(path),
        created_by=actor,
        modified_by=actor,
    )
    audit_record(
        actor=actor,
        action="create",
        obj=agency_list,
        org_unit=org_unit,
        details={"agency": agency.code, "file": agency_list.file_name, "sha256": agency_list.file_sha256},
    )
    return agency_list


def agency_list_submit(*, actor, agency_code: str, org_unit_code: str, upload) -> AgencyList:
    """The upload path (API and page): check, store the file (UploadTooLarge over the byte limit), create
    the list, and queue its reading once committed."""
    from .tasks import run_agency_list

    agency = Agency.objects.filter(code=normalize_text(agency_code)).first()
    org_unit = OrgUnit.objects.filter(code=normalize_text(org_unit_code)).first()
    errors = []
    if agency is None:
        errors.append(field_error("agency", "no agency has this code"))
    if org_unit is None:
        errors.append(field_error("org_unit", "no org unit has this code"))
    if errors:
        raise ValidationFailed("the list could not be accepted", errors)
    if not may_upload(actor=actor, agency=agency, org_unit=org_unit):
        raise PermissionDenied("you may not upload lists for this agency into this org unit")
    path, sha = import_upload_store(upload=upload)
    with transaction.atomic():
        agency_list = agency_list_create(
            actor=actor,
            agency=agency,
            org_unit=org_unit,
            file_path=path,
            file_name=Path(upload.name or path.name).name,
            file_sha=sha,
        )
        transaction.on_commit(lambda: run_agency_list.enqueue(agency_list.pk))
    return agency_list


# --- reading ----------------------------------------------------------------------------------------------


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


def _fail(agency_list: AgencyList, message: str) -> None:
    agency_list.status, agency_list.message = AgencyList.Status.FAILED, message[:2000]
    agency_list.finished_at = timezone.now()
    AgencyList.objects.filter(pk=agency_list.pk).update(
        status=agency_list.status, message=agency_list.message, finished_at=agency_list.finished_at
    )


def agency_list_read(
    *,
    agency_list_id: int,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    batch_hook: Callable | None = None,
) -> AgencyList:
    """Read (or resume reading) an uploaded list into SourceRecords; idempotent. The whole file is pre-scanned
    first (encoding, structure, header, row limit): a file that fails there writes nothing. Each batch is one
    transaction with its row errors, audit event and progress."""
    agency_list = AgencyList.objects.select_related("org_unit", "agency", "created_by").get(pk=agency_list_id)
    if agency_list.status == AgencyList.Status.DONE:
        return agency_list
    actor = agency_list.created_by
    if not may_upload(actor=actor, agency=agency_list.agency, org_unit=agency_list.org_unit):
        _fail(agency_list, "the user who uploaded this list may no longer upload into this org unit")
        return agency_list
    AgencyList.objects.filter(pk=agency_list.pk).update(status=AgencyList.Status.RUNNING, message="")
    try:
        source = Source.open(agency_list.file_path)
        if agency_list.rows_done and file_sha256(source.path) != agency_list.file_sha256:
            raise ImportFileError("the file changed since this list was started; upload it again")
        limit = max_rows()
        total = 0
        for _ in source.records():
            total += 1
            if total > limit:
                raise ImportFileError(
                    f"the file has more than {limit:,} rows, the limit of one list; split it into smaller files"
                )
        if total == 0:
            raise ImportFileError("the file has a header but no rows")
        reader = _RowReader(agency_list, source.header)
        AgencyList.objects.filter(pk=agency_list.pk).update(total_rows=total, encoding=source.encoding)
        agency_list.total_rows, agency_list.encoding = total, source.encoding
        batch: list = []
        for index, (number, values) in enumerate(source.records()):
            if index < agency_list.rows_done:  # committed before a stop: resume after them
                reader.seen.setdefault(normalize_text(reader.value(values, "record_id"))[:64], number)
                continue
            batch.append((number, values))
            if len(batch) >= batch_size:
                _commit(agency_list, reader, batch, actor, batch_hook)
                if progress:
                    progress(len(batch))
                batch = []
        if batch:
            _commit(agency_list, reader, batch, actor, batch_hook)
            if progress:
                progress(len(batch))
    except ImportFileError as exc:
        _fail(agency_list, str(exc))
        return agency_list
    except Exception as exc:
        _fail(
            agency_list,
            f"stopped after {agency_list.rows_done} rows ({exc.__class__.__name__}: {exc}); "
            "run it again to resume",
        )
        raise
    agency_list.status, agency_list.finished_at = AgencyList.Status.DONE, timezone.now()
    AgencyList.objects.filter(pk=agency_list.pk).update(
        status=agency_list.status, finished_at=agency_list.finished_at
    )
    return agency_list


def _commit(agency_list: AgencyList, reader: _RowReader, batch: list, actor, batch_hook) -> None:
    rows, errors = [], []
    invalid = 0
    for number, values in batch:
        data, row_errors = reader.clean(number, values)
        kept = data is not None
        if not kept:
            invalid += 1
        for field, message, value, kept_flag in row_errors:
            errors.append(
                AgencyListRowError(
                    agency_list_id=agency_list.pk,
                    row_number=number,
                    field=field,
                    message=message[:500],
                    value=str(value)[:200],
                    kept=kept_flag and kept,
                    raw={} if kept else reader.raw(values),
                )
            )
        if kept:
            rows.append(data)
    with transaction.atomic():
        existing = {
            r.record_id: r
            for r in SourceRecord.objects.filter(
                agency_id=agency_list.agency_id, record_id__in=[row["record_id"] for row in rows]
            ).select_related("person__household")
        }
        new, updated = [], []
        for data in rows:
            old = existing.get(data["record_id"])
            if old is None:
                new.append(
                    SourceRecord(
                        agency_id=agency_list.agency_id,
                        agency_list_id=agency_list.pk,
                        created_by=actor,
                        modified_by=actor,
                        **data,
                    )
                )
            elif old.raw != data["raw"]:
                for key, value in data.items():
                    if key not in ("row_number", "org_unit", "org_path"):
                        setattr(old, key, value)
                old.agency_list_id, old.modified_by = agency_list.pk, actor
                updated.append(old)
        SourceRecord.objects.bulk_create(new, batch_size=1000)
        if updated:
            SourceRecord.objects.bulk_update(
                updated,
                [
                    "raw",
                    *[c for c in LIST_COLUMNS if c not in ("record_id", "post_code")],
                    "national_code_valid",
                    "birth_date_precision",
                    "agency_list",
                    "modified_by",
                    "modified_at",
                ],
                batch_size=1000,
            )
            from .linking import _needs_and_supports

            for (
                record
            ) in updated:  # a linked record's need or support may have changed: its household follows
                if record.person_id is not None:
                    _needs_and_supports(record, record.person)
        AgencyListRowError.objects.bulk_create(errors, batch_size=1000)
        counts = {
            "rows_done": agency_list.rows_done + len(batch),
            "rows_created": agency_list.rows_created + len(new),
            "rows_updated": agency_list.rows_updated + len(updated),
            "rows_existing": agency_list.rows_existing + len(rows) - len(new) - len(updated),
            "rows_invalid": agency_list.rows_invalid + invalid,
        }
        AgencyList.objects.filter(pk=agency_list.pk).update(**counts)
        audit_record(
            actor=actor,
            action="import",
            obj=agency_list,
            org_unit=agency_list.org_unit,
            details={
                "rows": [batch[0][0], batch[-1][0]],
                "created": len(new),
                "updated": len(updated),
                "invalid": invalid,
            },
        )
        if batch_hook:
            batch_hook(agency_list, batch)
    for key, value in counts.items():
        setattr(agency_list, key, value)


def agency_list_percent(agency_list: AgencyList) -> float:
    if agency_list.status == AgencyList.Status.DONE:
        return 100.0
    if not agency_list.total_rows:
        return 0.0
    return round(100.0 * agency_list.rows_done / agency_list.total_rows, 1)
