"""Agency lists: an agency's upload (CSV/XLSX, person-record format plus need_kind and support) and the writing
of its rows into SourceRecords. Reading the file in batches is the job's (needs.jobs, on the one file-ingest
driver core.ingest); each batch's rows are written here, by `source_records_import`, in the batch's transaction.

The natural key of a record is (agency, record_id): uploading the same file or rows again changes nothing; a row
whose values changed updates its record, and a linked record's need and support follow to its household.
"""

from mahalle.audit.services import audit_record
from mahalle.core.errors import PermissionDenied, ValidationFailed, field_error
from mahalle.core.ingest import job_file, upload_stored
from mahalle.core.persian import normalize_text
from mahalle.core.service import service
from mahalle.geo.models import OrgUnit

from ..models import Agency, AgencyList, SourceRecord
from ..rules import LIST_COLUMNS
from ..selectors import may_upload
from ._links import _needs_and_supports

# What a changed row rewrites of its record.
UPDATED_FIELDS = [
    "raw",
    *[c for c in LIST_COLUMNS if c not in ("record_id", "post_code")],
    "national_code_valid",
    "birth_date_precision",
    "agency_list",
    "modified_by",
    "modified_at",
]


def _require_upload(actor, agency: Agency, org_unit: OrgUnit) -> None:
    if not may_upload(actor=actor, agency=agency, org_unit=org_unit):
        raise PermissionDenied("you may not upload lists for this agency into this org unit")


@service
def agency_list_create(
    *, actor, agency: Agency, org_unit: OrgUnit, file_path, file_name: str = "", file_sha: str = ""
) -> AgencyList:
    _require_upload(actor, agency, org_unit)
    agency_list = AgencyList.objects.create(
        agency=agency,
        org_unit=org_unit,
        **job_file(file_path, file_name=file_name, file_sha=file_sha),
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


@service
def agency_list_submit(*, actor, agency_code: str, org_unit_code: str, upload) -> AgencyList:
    """An uploaded list (API and page): check, store the file (core.ingest: UploadTooLarge over the byte limit)
    and create the list. needs.tasks.agency_list_upload queues its reading once committed."""
    agency = Agency.objects.filter(code=normalize_text(agency_code)).first()
    org_unit = OrgUnit.objects.filter(code=normalize_text(org_unit_code)).first()
    errors = []
    if agency is None:
        errors.append(field_error("agency", "no agency has this code"))
    if org_unit is None:
        errors.append(field_error("org_unit", "no org unit has this code"))
    if errors:
        raise ValidationFailed("the list could not be accepted", errors)
    _require_upload(actor, agency, org_unit)
    return agency_list_create(actor=actor, agency=agency, org_unit=org_unit, **upload_stored(upload))


@service
def source_records_import(
    *, actor, agency_list: AgencyList, rows: list[dict], span: tuple[int, int], invalid: int
) -> tuple[int, int]:
    """Write one batch of a list's cleaned rows (the field values of a SourceRecord each) with the batch's
    "import" audit event (`span`: its first and last row numbers; `invalid`: its rows not kept). A new
    record_id of the agency is created, a known one with other values updated, the same one left alone.
    Returns (created, updated)."""
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
        SourceRecord.objects.bulk_update(updated, UPDATED_FIELDS, batch_size=1000)
        for record in updated:  # a linked record's need or support may have changed: its household follows
            if record.person_id is not None:
                _needs_and_supports(record, record.person)
    audit_record(
        actor=actor,
        action="import",
        obj=agency_list,
        org_unit=agency_list.org_unit,
        details={"rows": list(span), "created": len(new), "updated": len(updated), "invalid": invalid},
    )
    return len(new), len(updated)
