import io

import openpyxl
import pytest

from mahalle.accounts.models import Role
from mahalle.audit.models import AuditEvent
from mahalle.core.errors import PermissionDenied
from mahalle.core.identifiers import national_code_with_check_digit
from mahalle.needs.jobs import agency_list_read
from mahalle.needs.models import AgencyList, SourceRecord
from mahalle.needs.services import agency_list_submit

from .factories import HEADER, AgencyFactory, csv_upload, member_of

CODE = national_code_with_check_digit("123456789")
ROWS = [
    f"R1,{CODE},زهرا,کريمي,علی,1365/02/03,زن,+989121234567,تهران,تهران,خیابان آزادی,food,بسته معیشتی,H1",
    "R2,,محمد رضا,محمدی,حسین,1990,M,0912,تهران,تهران,,hygiene,,H1",
    ",,بی‌شناسه,نام,,,,,,,,food,,",
    "R2,,تکراری,ردیف,,,,,,,,food,,",
    "R3,,,,,,,,,,,food,,",
    "R4,12345,مریم,احمدی,,۱۳۷۰/۰۱/۰۱,F,,,,,ناشناخته,نقد,",
]


@pytest.fixture
def agency():
    return AgencyFactory(code="relief", name="کمیته امداد")


def submit(users, tree, agency, rows=ROWS, role=Role.COUNTY_COORDINATOR, unit="post_a1", **kwargs):
    agency_list = agency_list_submit(
        actor=users[role],
        agency_code=agency.code,
        org_unit_code=tree[unit].code,
        upload=csv_upload(rows, **kwargs),
    )
    return agency_list_read(agency_list_id=agency_list.pk)


def test_rows_are_kept_with_their_errors(users, tree, agency):
    agency_list = submit(users, tree, agency)
    assert (agency_list.status, agency_list.total_rows, agency_list.rows_done) == ("done", 6, 6)
    assert (agency_list.rows_created, agency_list.rows_invalid, agency_list.encoding) == (3, 3, "utf-8")
    records = {r.record_id: r for r in SourceRecord.objects.all()}
    assert sorted(records) == ["R1", "R2", "R4"]
    r1 = records["R1"]
    assert (r1.national_code, r1.national_code_valid, r1.last_name, r1.mobile, r1.sex) == (
        CODE,
        True,
        "کریمی",
        "09121234567",
        "F",
    )
    assert (r1.birth_date.isoformat(), r1.need_kind, r1.support, r1.household_ref) == (
        "1986-04-23",
        "food",
        "بسته معیشتی",
        "H1",
    )
    assert r1.raw["last_name"] == "کريمي"  # as received
    assert (r1.org_unit, r1.link_status, r1.person) == (tree["post_a1"], "pending", None)
    r2, r4 = records["R2"], records["R4"]
    assert (r2.mobile, r2.birth_date_precision, r2.birth_date.year) == ("0912", "year", 1990)
    assert (r4.national_code, r4.national_code_valid, r4.need_kind, r4.support) == (
        "12345",
        False,
        "other",
        "نقد",
    )
    errors = [(e.row_number, e.field, e.kept) for e in agency_list.row_errors.all()]
    assert errors == [
        (3, "mobile", True),
        (4, "record_id", False),
        (5, "record_id", False),
        (6, "last_name", False),
        (7, "national_code", True),
        (7, "need_kind", True),
    ]
    dropped = agency_list.row_errors.get(row_number=5)
    assert dropped.message == "appears twice in this file (first on row 3)"
    assert dropped.raw["first_name"] == "تکراری"  # nothing is thrown away


def test_uploading_the_same_rows_again_changes_nothing(users, tree, agency):
    submit(users, tree, agency)
    before = list(SourceRecord.objects.order_by("record_id").values_list("pk", "record_id", "modified_at"))
    again = submit(users, tree, agency)
    assert (again.rows_created, again.rows_existing, again.rows_updated) == (0, 3, 0)
    assert (
        list(SourceRecord.objects.order_by("record_id").values_list("pk", "record_id", "modified_at"))
        == before
    )


def test_a_changed_row_updates_its_record(users, tree, agency):
    submit(users, tree, agency)
    changed = submit(users, tree, agency, rows=[ROWS[0].replace("علی", "حسین")])
    assert (changed.rows_created, changed.rows_existing, changed.rows_updated) == (0, 0, 1)
    record = SourceRecord.objects.get(record_id="R1")
    assert (record.father_name, record.agency_list) == ("حسین", changed)


def test_windows_1256_file(users, tree, agency):
    agency_list = submit(users, tree, agency, rows=["R9,,علي,كاظمي,,,,,,,,food,,"], encoding="cp1256")
    assert (agency_list.status, agency_list.encoding) == ("done", "cp1256")
    assert SourceRecord.objects.get().last_name == "کاظمی"


def test_xlsx_file_with_excel_dates(users, tree, agency):
    import datetime as dt

    from django.core.files.uploadedfile import SimpleUploadedFile

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    sheet.append(
        ["X1", "", "سارا", "نوری", "", dt.datetime(1980, 5, 6), "F", "", "", "", "", "housing", "", ""]
    )
    buffer = io.BytesIO()
    book.save(buffer)
    upload = SimpleUploadedFile("list.xlsx", buffer.getvalue())
    agency_list = agency_list_submit(
        actor=users[Role.COUNTY_COORDINATOR],
        agency_code=agency.code,
        org_unit_code=tree["post_a1"].code,
        upload=upload,
    )
    agency_list = agency_list_read(agency_list_id=agency_list.pk)
    record = SourceRecord.objects.get()
    assert (agency_list.encoding, record.birth_date, record.need_kind) == (
        "xlsx",
        dt.date(1980, 5, 6),
        "housing",
    )


def test_a_file_over_the_row_limit_fails_whole(users, tree, agency, settings):
    settings.MAHALLE_AGENCY_LIST_MAX_ROWS = 5
    agency_list = submit(users, tree, agency)
    assert agency_list.status == "failed"
    assert (
        agency_list.message
        == "the file has more than 5 rows, the limit of one list; split it into smaller files"
    )
    assert SourceRecord.objects.count() == 0


def test_a_header_without_record_id_fails(users, tree, agency):
    agency_list = submit(users, tree, agency, rows=["زهرا,کریمی"], header="first_name,last_name")
    assert (agency_list.status, agency_list.message) == (
        "failed",
        "the header must have a record_id column (the agency's id of the person)",
    )


def test_a_stopped_read_resumes_after_its_committed_batches(users, tree, agency):
    rows = [f"K{i},,نام{i},خانواده{i},,,,,,,,food,," for i in range(7)]
    agency_list = agency_list_submit(
        actor=users[Role.COUNTY_COORDINATOR],
        agency_code=agency.code,
        org_unit_code=tree["post_a1"].code,
        upload=csv_upload(rows),
    )
    calls = []

    def crash(current, batch):
        calls.append(len(batch))
        if len(calls) == 2:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        agency_list_read(agency_list_id=agency_list.pk, batch_size=3, batch_hook=crash)
    agency_list.refresh_from_db()
    assert (agency_list.status, agency_list.rows_done, SourceRecord.objects.count()) == ("failed", 3, 3)
    done = agency_list_read(agency_list_id=agency_list.pk, batch_size=3)
    assert (done.status, done.rows_done, done.rows_created) == ("done", 7, 7)
    assert SourceRecord.objects.count() == 7


def test_partner_staff_upload_for_their_own_agency_only(users, tree, agency):
    partner = users[Role.PARTNER_STAFF]
    other = AgencyFactory(code="other")
    with pytest.raises(PermissionDenied):
        submit(users, tree, agency, role=Role.PARTNER_STAFF)
    member_of(agency, partner)
    assert submit(users, tree, agency, role=Role.PARTNER_STAFF).status == "done"
    with pytest.raises(PermissionDenied):
        submit(users, tree, other, role=Role.PARTNER_STAFF)
    with pytest.raises(PermissionDenied):  # outside the jurisdiction
        submit(users, tree, agency, role=Role.PARTNER_STAFF, unit="post_b1")
    assert AgencyList.objects.count() == 1
    assert AuditEvent.objects.filter(action="import", object_type="needs.agencylist").count() == 1


def test_a_changed_row_of_a_linked_record_moves_its_need_and_support(users, tree, agency, people):
    from mahalle.needs.models import HouseholdNeed, Support

    submit(users, tree, agency)
    person = people["post_a1"]
    SourceRecord.objects.filter(record_id="R1").update(person=person, link_status="auto")
    submit(users, tree, agency, rows=[ROWS[0].replace(",food,بسته معیشتی,", ",housing,کارت هدیه,")])
    assert list(HouseholdNeed.objects.values_list("household", "kind")) == [(person.household_id, "housing")]
    assert list(Support.objects.values_list("household", "kind")) == [(person.household_id, "کارت هدیه")]
