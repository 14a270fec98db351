"""The needs API end to end: upload → read (task) → row errors → link (task, real engine) → golden record."""

from django.core.files.uploadedfile import SimpleUploadedFile

from mahalle.accounts.models import Role
from mahalle.core.identifiers import national_code_with_check_digit
from mahalle.needs.models import AgencyList, SourceRecord
from mahalle.tests.test_jurisdiction_matrix import call

from .factories import HEADER, AgencyFactory


def upload(client, token, tree, body: str, name="l.csv"):
    return client.post(
        "/api/v1/needs/lists",
        data={
            "agency": "relief",
            "org_unit": tree["post_a1"].code,
            "file": SimpleUploadedFile(name, body.encode(), "text/csv"),
        },
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_upload_read_link_and_golden(client, tree, tokens, people, django_capture_on_commit_callbacks):
    AgencyFactory(code="relief")
    person = people["post_a1"]
    token = tokens[Role.COUNTY_COORDINATOR]
    new_code = national_code_with_check_digit("444555666")
    body = (
        "\n".join(
            [
                HEADER,
                f"A1,{person.national_code},{person.first_name},{person.last_name},{person.father_name},"
                f"{person.birth_date.isoformat()},M,{person.mobile},,,,food,بسته معیشتی,",
                f"A2,{new_code},سمیه,اکبری,رضا,1992-07-01,F,09390001122,,,,housing,,",
                "A3,,,,,,,,,,,food,,",
            ]
        )
        + "\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, token, tree, body)
    assert response.status_code == 202
    list_id = response.json()["id"]
    detail = call(client, token, "GET", f"/api/v1/needs/lists/{list_id}").json()
    assert (detail["status"], detail["rows_created"], detail["rows_invalid"], detail["percent"]) == (
        "done",
        2,
        1,
        100.0,
    )
    errors = call(client, token, "GET", f"/api/v1/needs/lists/{list_id}/errors").json()["items"]
    assert [(e["row_number"], e["field"], e["kept"]) for e in errors] == [(4, "last_name", False)]
    with django_capture_on_commit_callbacks(execute=True):
        linked = call(client, token, "POST", f"/api/v1/needs/lists/{list_id}/link", {})
    assert linked.status_code == 202
    detail = call(client, token, "GET", f"/api/v1/needs/lists/{list_id}").json()
    assert detail["link_status"] == "linked", detail["link_message"]
    assert (detail["link_counts"]["auto"], detail["link_counts"]["new"]) == (1, 1)
    golden = call(client, token, "GET", f"/api/v1/needs/persons/{person.pk}/golden").json()
    assert [r["record_id"] for r in golden["records"]] == ["A1"]
    assert golden["fields"]["national_code"] == {
        "value": person.national_code,
        "source": "registry",
        "agree": 2,
        "candidates": golden["fields"]["national_code"]["candidates"],
    }
    needs = call(client, token, "GET", f"/api/v1/needs/households/{person.household_id}").json()
    assert [(n["kind"], n["agency"]) for n in needs["needs"]] == [("food", "relief")]
    assert [(s["agency"], s["kind"]) for s in needs["supports"]] == [("relief", "بسته معیشتی")]
    # the same file again: nothing new, nothing to link
    with django_capture_on_commit_callbacks(execute=True):
        again = upload(client, token, tree, body)
    again_detail = call(client, token, "GET", f"/api/v1/needs/lists/{again.json()['id']}").json()
    assert (again_detail["rows_created"], again_detail["rows_existing"]) == (0, 2)
    assert SourceRecord.objects.count() == 2


def test_an_upload_over_the_size_limit_is_413(client, tree, tokens, settings):
    AgencyFactory(code="relief")
    settings.MAHALLE_MAX_IMPORT_BYTES = 100
    response = upload(client, tokens[Role.COUNTY_COORDINATOR], tree, HEADER + "\n" + "x" * 200)
    assert response.status_code == 413
    assert response.json()["detail"].startswith("the file is")
    assert AgencyList.objects.count() == 0


def test_an_upload_over_the_row_limit_fails_with_a_clear_message(
    client, tree, tokens, settings, django_capture_on_commit_callbacks
):
    AgencyFactory(code="relief")
    settings.MAHALLE_AGENCY_LIST_MAX_ROWS = 2
    rows = "\n".join(f"R{i},,نام,خانواده,,,,,,,,food,," for i in range(3))
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, tokens[Role.COUNTY_COORDINATOR], tree, f"{HEADER}\n{rows}\n")
    detail = call(
        client, tokens[Role.COUNTY_COORDINATOR], "GET", f"/api/v1/needs/lists/{response.json()['id']}"
    )
    assert (detail.json()["status"], detail.json()["message"]) == (
        "failed",
        "the file has more than 2 rows, the limit of one list; split it into smaller files",
    )
    assert SourceRecord.objects.count() == 0


def test_unknown_agency_is_422(client, tree, tokens):
    response = upload(client, tokens[Role.COUNTY_COORDINATOR], tree, HEADER + "\n")
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "agency", "message": "no agency has this code"}]


def test_a_bad_decision_is_422(client, tokens, users, tree, people):
    from .factories import AgencyListFactory, SourceRecordFactory, pair_for

    agency_list = AgencyListFactory(agency=AgencyFactory(code="relief"), org_unit=tree["post_a1"])
    pair = pair_for(SourceRecordFactory(agency_list=agency_list), people["post_a1"])
    response = call(
        client,
        tokens[Role.COUNTY_COORDINATOR],
        "POST",
        f"/api/v1/needs/review-pairs/{pair.pk}/decision",
        {"decision": "maybe"},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "decision", "message": "must be same or different"}]


def test_partner_staff_see_only_their_agencys_records(client, tokens, users, tree, people):
    from .factories import AgencyListFactory, SourceRecordFactory, member_of, pair_for

    person = people["post_a1"]
    relief, crescent = AgencyFactory(code="relief"), AgencyFactory(code="crescent")
    member_of(relief, users[Role.PARTNER_STAFF])
    own = SourceRecordFactory(
        agency_list=AgencyListFactory(agency=relief, org_unit=tree["post_a1"]),
        record_id="OWN",
        person=person,
        link_status="auto",
    )
    other_list = AgencyListFactory(agency=crescent, org_unit=tree["post_a1"])
    SourceRecordFactory(agency_list=other_list, record_id="THEIRS", person=person, link_status="auto")
    theirs_pair = pair_for(SourceRecordFactory(agency_list=other_list, record_id="PAIR"), person)
    own_pair = pair_for(SourceRecordFactory(agency_list=own.agency_list, record_id="OWNPAIR"), person)
    token = tokens[Role.PARTNER_STAFF]
    golden = call(client, token, "GET", f"/api/v1/needs/persons/{person.pk}/golden").json()
    assert [r["record_id"] for r in golden["records"]] == ["OWN"]
    assert [p["id"] for p in call(client, token, "GET", "/api/v1/needs/review-pairs").json()["items"]] == [
        own_pair.pk
    ]
    assert call(client, token, "GET", f"/api/v1/needs/review-pairs/{theirs_pair.pk}").status_code == 404
    assert [x["id"] for x in call(client, token, "GET", "/api/v1/needs/lists").json()["items"]] == [
        own.agency_list_id
    ]
    coordinator = call(
        client, tokens[Role.COUNTY_COORDINATOR], "GET", f"/api/v1/needs/persons/{person.pk}/golden"
    )
    assert sorted(r["record_id"] for r in coordinator.json()["records"]) == ["OWN", "THEIRS"]
