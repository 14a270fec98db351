"""The import engine and the `import_registry` command, on SQLite and PostgreSQL."""

import csv
import datetime as dt
import json
import random
from io import StringIO

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from mahalle.accounts.models import Role
from mahalle.audit.models import AuditEvent
from mahalle.core.errors import PermissionDenied
from mahalle.core.identifiers import national_code_with_check_digit
from mahalle.registry.imports import (
    canonical_mobile,
    canonical_national_code,
    import_job_create,
    import_job_run,
)
from mahalle.registry.models import Household, ImportJob, ImportRowError, Person
from mahalle.registry.rules import person_clean

PERSON_HEADER = [
    "record_id",
    "national_code",
    "first_name",
    "last_name",
    "father_name",
    "birth_date",
    "sex",
    "mobile",
    "province",
    "county",
    "address",
    "post_code",
]


def code(n: int) -> str:
    return national_code_with_check_digit(f"{200000000 + n:09d}")


def person_row(n: int, **values) -> dict:
    row = {
        "record_id": f"R{n}",
        "national_code": code(n),
        "first_name": "علی",
        "last_name": f"رضایی{n}",
        "father_name": "حسن",
        "birth_date": "1980-05-17",
        "sex": "M",
        "mobile": f"0912{n:07d}",
        "province": "تهران",
        "county": "تهران",
        "address": "",
        "post_code": "SA1",
    }
    row.update(values)
    return row


def write_csv(path, rows: list[dict], header=None, encoding="utf-8", delimiter=","):
    header = header or list(rows[0])
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, delimiter=delimiter, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(path, *, actor=None, unit, kind="persons", **kwargs) -> ImportJob:
    job = import_job_create(actor=actor, kind=kind, org_unit=unit, file_path=path)
    return import_job_run(job_id=job.pk, **kwargs)


def errors_of(job) -> list[tuple]:
    return list(ImportRowError.objects.filter(job=job).values_list("row_number", "field", "message", "value"))


def test_valid_file_is_stored_exactly(tmp_path, tree, users):
    actor = users[Role.NATIONAL_COORDINATOR]
    rows = [
        person_row(1, sex="مرد", birth_date="1980-05-17"),
        person_row(
            2,
            first_name="فاطمه",
            last_name="كريمي",  # Arabic kaf and yeh: normalised
            sex="F",
            birth_date="۱۳۶۲/۰۲/۲۷",  # Jalali in Persian digits = 1983-05-17
            mobile="+98 912 000 0002",
            post_code="SA2",
        ),
        person_row(3, national_code="", record_id="EXT-3", birth_date="1350", sex="", mobile=""),
    ]
    path = write_csv(tmp_path / "persons.csv", rows)
    job = run(path, actor=actor, unit=tree["country"], batch_size=2)

    assert (
        job.status,
        job.total_rows,
        job.rows_done,
        job.rows_created,
        job.rows_existing,
        job.rows_invalid,
    ) == (
        ImportJob.Status.DONE,
        3,
        3,
        3,
        0,
        0,
    )
    assert job.encoding == "utf-8"
    assert errors_of(job) == []
    first = Person.objects.get(national_code=code(1))
    assert (first.first_name, first.last_name, first.father_name, first.sex) == ("علی", "رضایی1", "حسن", "M")
    assert (first.birth_date, first.birth_date_precision, first.mobile) == (
        dt.date(1980, 5, 17),
        "day",
        "09120000001",
    )
    assert (first.org_unit, first.org_path, first.external_id) == (
        tree["post_a1"],
        tree["post_a1"].path,
        "R1",
    )
    assert (first.created_by, first.name_key, first.last_name_key) == (actor, "علیرضایی1", "رضایی1")
    second = Person.objects.get(national_code=code(2))
    assert (second.last_name, second.birth_date, second.mobile, second.org_unit) == (
        "کریمی",
        dt.date(1983, 5, 17),
        "09120000002",
        tree["post_a2"],
    )
    third = Person.objects.get(external_id="EXT-3")
    assert (third.national_code, third.birth_date, third.birth_date_precision, third.sex) == (
        None,
        dt.date(1971, 3, 21),  # Jalali year 1350 begins on 21 March 1971
        "year",
        "",
    )
    events = AuditEvent.objects.filter(action="import", object_id=str(job.pk)).order_by("id")
    assert [(e.details["batch"], e.details["created"], e.details["rows"]) for e in events] == [
        (1, 2, [2, 3]),
        (2, 1, [4, 4]),
    ]
    # who created each person, when, from which file: one audit search
    for person in (first, second, third):
        event = AuditEvent.objects.get(
            object_type="registry.person", object_id=str(person.pk), action="create"
        )
        assert (event.actor, event.details, event.org_path) == (
            actor,
            {"source": {"import_job": job.pk}},
            person.org_path,
        )


@pytest.mark.parametrize("reader", ["process", "inline"])
def test_running_the_same_file_again_creates_nothing(tmp_path, tree, reader):
    path = write_csv(tmp_path / "persons.csv", [person_row(n) for n in range(1, 6)])
    first = run(path, unit=tree["country"], reader=reader)
    assert (first.status, first.rows_created) == ("done", 5)
    again = run(path, unit=tree["country"], batch_size=2, reader=reader)
    assert (again.status, again.rows_created, again.rows_existing, again.rows_invalid) == ("done", 0, 5, 0)
    assert Person.objects.count() == 5


def test_households_then_persons_link_members_and_head(tmp_path, tree):
    households = write_csv(
        tmp_path / "households.csv",
        [
            {
                "household_id": "H1",
                "post_code": "SA1",
                "address": "کوچه  یاس",
                "phone": "021-55667788",
                "female_headed": "بله",
                "lost_income": "0",
            },
            {
                "household_id": "H2",
                "post_code": "SA1",
                "address": "",
                "phone": "09121112233",
                "female_headed": "",
                "lost_income": "yes",
            },
        ],
    )
    job = run(households, unit=tree["country"], kind="households")
    assert (job.status, job.rows_created) == ("done", 2)
    households_job = job
    h1 = Household.objects.get(external_id="H1")
    assert (h1.address, h1.phone, h1.female_headed, h1.lost_income, h1.org_unit) == (
        "کوچه یاس",
        "02155667788",
        True,
        False,
        tree["post_a1"],
    )
    header = [*PERSON_HEADER, "household_id", "relation_to_head"]
    persons = write_csv(
        tmp_path / "persons.csv",
        [
            person_row(1, household_id="H1", relation_to_head="سرپرست"),
            person_row(2, household_id="H1", relation_to_head="child"),
            person_row(3, household_id="H9", relation_to_head="head"),
            person_row(4, household_id="H2", relation_to_head="head", post_code="SA2"),
        ],
        header=header,
    )
    job = run(persons, unit=tree["country"])
    assert (job.rows_created, job.rows_invalid) == (2, 2)
    assert errors_of(job) == [
        (4, "household_id", "no household has this id; import the households file first", "H9"),
        (5, "household_id", "the household belongs to another health post", "H2"),
    ]
    h1.refresh_from_db()
    head = Person.objects.get(national_code=code(1))
    assert (h1.head, head.household, head.relation_to_head) == (head, h1, "head")
    assert Person.objects.get(national_code=code(2)).household == h1
    assert AuditEvent.objects.get(object_type="registry.household", object_id=str(h1.pk)).details == {
        "source": {"import_job": households_job.pk}
    }
    assert run(households, unit=tree["country"], kind="households").rows_existing == 2


def test_windows_1256_file_is_read(tmp_path, tree):
    # Windows-1256 has no Persian yeh (ی); Windows writes the Arabic yeh (ي), which the normaliser maps back.
    rows = [person_row(1, first_name="مهدي", last_name="پورعلي", father_name="كاظم")]
    path = write_csv(tmp_path / "persons-1256.csv", rows, encoding="cp1256")
    job = run(path, unit=tree["country"])
    assert (job.status, job.encoding, job.rows_created) == ("done", "cp1256", 1)
    person = Person.objects.get()
    assert (person.first_name, person.last_name, person.father_name) == ("مهدی", "پورعلی", "کاظم")


def test_utf8_with_bom_and_semicolons(tmp_path, tree):
    path = write_csv(tmp_path / "bom.csv", [person_row(1)], encoding="utf-8-sig", delimiter=";")
    job = run(path, unit=tree["country"])
    assert (job.status, job.encoding, job.rows_created) == ("done", "utf-8-sig", 1)
    assert Person.objects.get().external_id == "R1"  # the BOM did not stick to the first column's name


def test_xlsx_with_numbers_and_date_cells(tmp_path, tree):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(
        ["national_code", "first_name", "last_name", "birth_date", "mobile", "post_code", "pregnant"]
    )
    leading_zero = national_code_with_check_digit("012345678")
    sheet.append([int(leading_zero), "زهرا", "احمدی", dt.datetime(1990, 1, 2), 9121234567, "SA1", 1])
    sheet.append([float(code(2)), "مریم", "حسینی", "1369/10/12", "09350000000", "SA2", "خیر"])
    sheet.append([None, None, None, None, None, None, None])  # blank rows are skipped
    path = tmp_path / "persons.xlsx"
    workbook.save(path)
    job = run(path, unit=tree["country"])
    assert (job.status, job.encoding, job.total_rows, job.rows_created, job.rows_invalid) == (
        "done",
        "xlsx",
        2,
        2,
        0,
    )
    zahra = Person.objects.get(national_code=leading_zero)
    assert (zahra.birth_date, zahra.mobile, zahra.pregnant) == (dt.date(1990, 1, 2), "09121234567", True)
    maryam = Person.objects.get(national_code=code(2))
    assert (maryam.birth_date, maryam.pregnant, maryam.org_unit) == (
        dt.date(1991, 1, 2),
        False,
        tree["post_a2"],
    )


def test_invalid_rows_are_recorded_and_valid_rows_kept(tmp_path, tree, users):
    actor = users[Role.PROVINCE_COORDINATOR]  # province a
    injection = "Robert'); DROP TABLE registry_person; --"
    rows = [
        person_row(1),  # row 2: valid
        person_row(2, post_code="XX9"),  # row 3
        person_row(3, post_code="SB1"),  # row 4: a post of province b
        person_row(4, national_code="1234567890"),  # row 5: wrong check digit
        person_row(5, national_code=code(1)),  # row 6: duplicate national code
        person_row(6, national_code="", record_id="R1"),  # row 7: duplicate record id
        person_row(7, first_name="<script>alert(1)</script>"),  # row 8
        person_row(8, last_name=injection),  # row 9: stored as text
        person_row(9, first_name=""),  # row 10
        person_row(10, birth_date="1404/13/01"),  # row 11
        person_row(11, birth_date="2090-01-01"),  # row 12
        person_row(12, sex="X", mobile="12345"),  # row 13: two field errors
        person_row(13, national_code="", record_id=""),  # row 14: no natural key
        person_row(14, first_name="ا" * 300),  # row 15
    ]
    path = write_csv(tmp_path / "bad.csv", rows)
    job = run(path, actor=actor, unit=tree["province_a"], batch_size=4)
    assert (job.status, job.rows_done, job.rows_created, job.rows_invalid) == ("done", 14, 2, 12)
    assert errors_of(job) == [
        (3, "post_code", "no health post has this code", "XX9"),
        (4, "post_code", "this health post is outside PA, the scope of this import", "SB1"),
        (5, "national_code", "national code check digit does not match", "1234567890"),
        (6, "national_code", "appears twice in this file (first on row 2)", code(1)),
        (7, "record_id", "appears twice in this file (first on row 2)", "R1"),
        (8, "first_name", "contains characters not allowed in a name (< > { })", "<script>alert(1)</script>"),
        (10, "first_name", "is required", ""),
        (11, "birth_date", "'1404/13/01' is not a valid calendar date", "1404/13/01"),
        (12, "birth_date", "is in the future", "2090-01-01"),
        (13, "sex", "must be M or F (مرد / زن)", "X"),
        (13, "mobile", "mobile number must be an Iranian mobile (09xx xxx xxxx)", "12345"),
        (14, "national_code", "a national code or a record_id is needed to identify the person", ""),
        (15, "first_name", "longer than 100 characters", "ا" * 99 + "…"),
    ]
    assert sorted(Person.objects.values_list("national_code", flat=True)) == sorted([code(1), code(8)])
    assert Person.objects.get(national_code=code(8)).last_name == injection
    with connection.cursor() as cursor:  # the table is still there
        cursor.execute("SELECT COUNT(*) FROM registry_person")
        assert cursor.fetchone() == (2,)


def test_record_id_of_another_person_is_an_error(tmp_path, tree):
    run(write_csv(tmp_path / "one.csv", [person_row(1)]), unit=tree["country"])
    job = run(write_csv(tmp_path / "two.csv", [person_row(2, record_id="R1")]), unit=tree["country"])
    assert errors_of(job) == [
        (2, "record_id", f"already used by another person (national code {code(1)})", "R1")
    ]
    assert Person.objects.count() == 1


def _bad_file(tmp_path, name: str, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


GOOD = "national_code,first_name,last_name,post_code\n" + f"{code(1)},علی,رضایی,SA1\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"national_code,first_name,last_name,post_code\n", "the file has a header but no rows"),
        (
            (GOOD + f'{code(2)},"علی,رضایی,SA1\n').encode(),
            "the CSV is malformed in the record starting at line 3: unexpected end of data (an unterminated "
            "quote, or a damaged or "
            "truncated file)",
        ),
        (
            (GOOD + f"{code(2)},علی,رضایی,SA1,extra\n").encode(),
            "line 3 has 5 fields but the header has 4; check the delimiters and quotes on that line",
        ),
        (
            GOOD.encode() + f"{code(2)},".encode() + b"\xff\xfe" + "رضایی,رضایی,SA1\n".encode(),
            "line 3 is not valid UTF-8 text, though the rest of the file is; the file mixes encodings or is damaged",
        ),
        (
            GOOD.encode("utf-16"),
            "the file is not text in UTF-8 or Windows-1256 (it looks like UTF-16 or a binary file); save it as "
            "'CSV UTF-8'",
        ),
        (
            "national_code,first_name,last_name,post_code\n1,Émile,Zoé,SA1\n2,Hélène,Bérénice,SA1\n".encode(
                "latin-1"
            ),
            "the file's text encoding is neither UTF-8 nor Windows-1256 (its bytes do not decode to Persian text); "
            "save it as 'CSV UTF-8'",
        ),
        (
            b"first_name,last_name,post_code\n" + "علی,رضایی,SA1\n".encode(),
            "the header must have a national_code or a record_id column (the natural key)",
        ),
        (b"PK\x03\x04not really a workbook", "the file is not a readable XLSX workbook (BadZipFile)"),
    ],
    ids=[
        "empty",
        "header-only",
        "unterminated-quote",
        "column-count",
        "undecodable",
        "utf16",
        "latin1",
        "no-key-column",
        "broken-xlsx",
    ],
)
def test_bad_files_fail_the_job_and_write_nothing(request, tmp_path, tree, content, message):
    path = _bad_file(tmp_path, "bad.csv", content)
    job = run(path, unit=tree["country"])
    assert (job.status, job.message, job.rows_done) == ("failed", message, 0)
    if request.node.callspec.id in ("header-only", "unterminated-quote", "column-count", "no-key-column"):
        assert job.encoding == "utf-8"  # recorded even when the job fails
    assert (Person.objects.count(), ImportRowError.objects.count()) == (0, 0)
    assert not AuditEvent.objects.filter(action="import").exists()


def test_file_over_the_size_limit_fails(tmp_path, tree, settings):
    settings.MAHALLE_MAX_IMPORT_BYTES = 20
    job = run(_bad_file(tmp_path, "big.csv", GOOD.encode()), unit=tree["country"])
    assert job.status == "failed"
    assert job.message.startswith(f"the file is {len(GOOD.encode())} bytes, over the limit of 20 bytes")
    assert Person.objects.count() == 0


def test_crash_mid_import_keeps_whole_batches_and_resume_finishes(tmp_path, tree):
    rows = [person_row(n) for n in range(1, 8)]
    rows.append(person_row(8, national_code=code(1)))  # duplicates row 2, which lands before the crash
    path = write_csv(tmp_path / "persons.csv", rows)
    job = import_job_create(actor=None, kind="persons", org_unit=tree["country"], file_path=path)

    def crash_in_second_batch(job_, batch):
        if batch.number == 2:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        import_job_run(job_id=job.pk, batch_size=3, batch_hook=crash_in_second_batch)
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.rows_created) == ("failed", 3, 3)
    assert job.message == "stopped after 3 rows (RuntimeError: power cut); run the job again to resume"
    assert sorted(Person.objects.values_list("external_id", flat=True)) == ["R1", "R2", "R3"]

    job = import_job_run(job_id=job.pk, batch_size=3)
    assert (job.status, job.rows_done, job.rows_created, job.rows_existing, job.rows_invalid) == (
        "done",
        8,
        7,
        0,
        1,
    )
    assert Person.objects.count() == 7
    assert errors_of(job) == [(9, "national_code", "appears twice in this file (first on row 2)", code(1))]
    assert [e.details["batch"] for e in AuditEvent.objects.filter(action="import").order_by("id")] == [
        1,
        2,
        3,
    ]
    assert import_job_run(job_id=job.pk).rows_created == 7  # a done job is left as it is


def test_resume_refuses_a_changed_file(tmp_path, tree):
    path = write_csv(tmp_path / "persons.csv", [person_row(n) for n in range(1, 5)])
    job = import_job_create(actor=None, kind="persons", org_unit=tree["country"], file_path=path)

    def crash(job_, batch):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        import_job_run(job_id=job.pk, batch_size=2, batch_hook=lambda j, b: b.number == 2 and crash(j, b))
    write_csv(path, [person_row(n) for n in range(10, 14)])
    job = import_job_run(job_id=job.pk, batch_size=2)
    assert (job.status, job.message) == (
        "failed",
        "the file changed since this import started; start a new import with it",
    )
    assert Person.objects.count() == 2


def test_volunteer_may_not_import(tmp_path, tree, users):
    path = write_csv(tmp_path / "p.csv", [person_row(1)])
    with pytest.raises(PermissionDenied):
        import_job_create(
            actor=users[Role.FIELD_VOLUNTEER], kind="persons", org_unit=tree["post_a1"], file_path=path
        )
    assert ImportJob.objects.count() == 0


def test_province_coordinator_may_not_import_into_another_province(tmp_path, tree, users):
    path = write_csv(tmp_path / "p.csv", [person_row(1, post_code="SB1")])
    with pytest.raises(PermissionDenied):
        import_job_create(
            actor=users[Role.PROVINCE_COORDINATOR],
            kind="persons",
            org_unit=tree["province_b"],
            file_path=path,
        )
    job = run(path, actor=users[Role.PROVINCE_COORDINATOR], unit=tree["province_a"])
    assert errors_of(job) == [
        (2, "post_code", "this health post is outside PA, the scope of this import", "SB1")
    ]
    assert Person.objects.count() == 0


def test_post_scope_lets_the_file_omit_post_code(tmp_path, tree, users):
    header = [h for h in PERSON_HEADER if h != "post_code"]
    path = write_csv(tmp_path / "p.csv", [person_row(1)], header=header)
    job = run(path, actor=users[Role.POST_SUPERVISOR], unit=tree["post_a1"])
    assert (job.status, job.rows_created) == ("done", 1)
    assert Person.objects.get().org_unit == tree["post_a1"]


def test_command_json_summary_and_resume(tmp_path, tree):
    path = write_csv(tmp_path / "p.csv", [person_row(n) for n in range(1, 4)])
    out = StringIO()
    call_command(
        "import_registry", "persons", str(path), "--org-unit", "IR", "--json", "--no-progress", stdout=out
    )
    summary = json.loads(out.getvalue())
    assert {k: summary[k] for k in ("status", "rows", "created", "existing", "invalid", "encoding")} == {
        "status": "done",
        "rows": 3,
        "created": 3,
        "existing": 0,
        "invalid": 0,
        "encoding": "utf-8",
    }
    assert isinstance(summary["seconds"], float)
    out = StringIO()
    call_command("import_registry", "--resume", str(summary["job"]), "--json", "--no-progress", stdout=out)
    assert json.loads(out.getvalue())["created"] == 3


def test_command_fails_with_nonzero_exit_on_a_bad_file(tmp_path, tree):
    path = _bad_file(tmp_path, "bad.csv", b"")
    with pytest.raises(CommandError, match="the file is empty"):
        call_command("import_registry", "persons", str(path), "--no-progress", stdout=StringIO())
    assert ImportJob.objects.get().status == "failed"


def test_command_as_a_user_checks_their_jurisdiction(tmp_path, tree, users):
    path = write_csv(tmp_path / "p.csv", [person_row(1)])
    with pytest.raises(CommandError, match="you may not import records into this org unit"):
        call_command(
            "import_registry",
            "persons",
            str(path),
            "--user",
            "field_volunteer",
            "--org-unit",
            "SA1",
            "--no-progress",
            stdout=StringIO(),
        )
    assert Person.objects.count() == 0


def test_the_fast_path_for_canonical_identifiers_agrees_with_person_clean():
    rng = random.Random(11)
    codes = [national_code_with_check_digit(f"{rng.randrange(10**9):09d}") for _ in range(300)]
    codes += [f"{rng.randrange(10**10):010d}" for _ in range(300)]  # mostly a wrong check digit
    codes += ["0000000000", "1111111111", "۰۰۱۲۳۴۵۶۷۸", "12345678", "0012345678 ", "001-234-5678", "", None]
    mobiles = [f"09{rng.randrange(10**9):09d}" for _ in range(100)]
    mobiles += ["9121234567", "+989121234567", "۰۹۱۲۱۲۳۴۵۶۷", "0812345678", "08121234567", "091212345678", ""]
    for field, values, fast in (
        ("national_code", codes, canonical_national_code),
        ("mobile", mobiles, canonical_mobile),
    ):
        for value in values:
            clean, errors = person_clean({field: value})
            unchanged = not errors and clean.get(field) == value
            assert fast(value) == (unchanged or value in ("", None)), (field, value)
    assert sum(canonical_national_code(c) for c in codes[:300]) == 300
