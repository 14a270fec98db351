"""The needs part of the jurisdiction matrix (see mahalle/tests/test_jurisdiction_matrix.py): every route ×
every role × a record in each post.

Expected answers: a role without personal data (analyst) → 403; a record outside the caller's subtree → 404;
a write the role may not do → 403; else success. A denied call changes nothing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mahalle.accounts.capabilities import PERSONAL_DATA_ROLES, Can, roles_with
from mahalle.accounts.models import Role
from mahalle.audit.models import AuditEvent
from mahalle.needs.models import (
    AgencyList,
    HouseholdNeed,
    LinkChange,
    ReviewDecision,
    ReviewPair,
    SourceRecord,
    Support,
)
from mahalle.registry.models import Household, Person
from mahalle.tests.test_jurisdiction_matrix import POSTS, ROLE_POST, ROLES, VISIBLE, call, snapshot

from .factories import (
    HEADER,
    AgencyFactory,
    AgencyListFactory,
    SourceRecordFactory,
    member_of,
    pair_for,
    support_for,
)

LINK_ROLES, REVIEW_ROLES, UPLOAD_ROLES = (
    roles_with(c) for c in (Can.LINK, Can.REVIEW_LINKS, Can.UPLOAD_LISTS)
)

PERSONAL_ROUTES = {
    ("POST", "/api/v1/needs/lists"): "test_list_upload",
    ("GET", "/api/v1/needs/lists"): "test_lists_show_exactly_the_jurisdiction",
    ("GET", "/api/v1/needs/lists/{list_id}"): "test_list_detail_and_errors",
    ("GET", "/api/v1/needs/lists/{list_id}/errors"): "test_list_detail_and_errors",
    ("POST", "/api/v1/needs/lists/{list_id}/link"): "test_list_link",
    ("GET", "/api/v1/needs/review-pairs"): "test_lists_show_exactly_the_jurisdiction",
    ("GET", "/api/v1/needs/review-pairs/{pair_id}"): "test_reads_of_one_record",
    ("POST", "/api/v1/needs/review-pairs/{pair_id}/decision"): "test_review_decision",
    ("POST", "/api/v1/needs/review-pairs/{pair_id}/undo"): "test_review_undo",
    ("GET", "/api/v1/needs/persons/{person_id}/golden"): "test_reads_of_one_record",
    ("POST", "/api/v1/needs/source-records/{record_id}/split"): "test_split_and_relink",
    ("POST", "/api/v1/needs/source-records/{record_id}/relink"): "test_split_and_relink",
    ("GET", "/api/v1/needs/households/{household_id}"): "test_reads_of_one_record",
    ("GET", "/api/v1/needs/supports"): "test_supports",
}
NON_PERSONAL_ROUTES: set = set()

MODELS = (
    AgencyList,
    SourceRecord,
    ReviewPair,
    ReviewDecision,
    LinkChange,
    HouseholdNeed,
    Support,
    Person,
    Household,
)


def state():
    return [snapshot(model) for model in MODELS]


@pytest.fixture
def records(tree, users, people):
    """In every post: a read list of the agency 'relief', one record waiting for review against the post's
    person, a row error, and the household supported by 'relief' and by a second agency."""
    relief = AgencyFactory(code="relief", name="کمیته امداد")
    crescent = AgencyFactory(code="crescent", name="هلال احمر")
    for role in (Role.PARTNER_STAFF, Role.POST_SUPERVISOR):
        member_of(relief, users[role])
    made = {}
    for post in POSTS:
        agency_list = AgencyListFactory(agency=relief, org_unit=tree[post])
        record = SourceRecordFactory(agency_list=agency_list, record_id=f"R-{post}")
        agency_list.row_errors.create(
            row_number=3, field="national_code", message="bad", value=people[post].national_code
        )
        household = people[post].household
        made[post] = {
            "list": agency_list,
            "record": record,
            "pair": pair_for(record, people[post]),
            "person": people[post],
            "household": household,
            "support": support_for(household, relief, ref=f"s-{post}"),
            "other": support_for(household, crescent, kind="بسته بهداشتی", ref=f"c-{post}"),
        }
    return made


def expected_status(role, post, allowed_roles, ok):
    if role not in PERSONAL_DATA_ROLES:
        return 403
    if post not in VISIBLE[role]:
        return 404
    return ok if role in allowed_roles else 403


@pytest.mark.parametrize("path", ["/api/v1/needs/lists", "/api/v1/needs/review-pairs"])
@pytest.mark.parametrize("role", ROLES)
def test_lists_show_exactly_the_jurisdiction(
    client, tokens, records, role, path, django_assert_max_num_queries
):
    with django_assert_max_num_queries(10):
        response = call(client, tokens[role], "GET", path)
    if role not in PERSONAL_DATA_ROLES:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    key = "list" if path.endswith("lists") else "pair"
    assert {item["id"] for item in response.json()["items"]} == {records[p][key].pk for p in VISIBLE[role]}


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_list_upload(client, tree, tokens, records, role, post):
    before = state()
    upload = SimpleUploadedFile("l.csv", f"{HEADER}\nN1,,زهرا,کریمی,,,,,,,,food,,\n".encode(), "text/csv")
    response = client.post(
        "/api/v1/needs/lists",
        data={"agency": "relief", "org_unit": tree[post].code, "file": upload},
        HTTP_AUTHORIZATION=f"Bearer {tokens[role]}",
    )
    if role in UPLOAD_ROLES and role in PERSONAL_DATA_ROLES and post in VISIBLE[role]:
        assert response.status_code == 202, response.content
        created = AgencyList.objects.get(pk=response.json()["id"])
        assert (created.org_unit, created.created_by.username, created.agency.code) == (
            tree[post],
            role,
            "relief",
        )
        return
    assert response.status_code == 403
    assert state() == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_list_detail_and_errors(client, tokens, records, role, post):
    agency_list = records[post]["list"]
    detail = call(client, tokens[role], "GET", f"/api/v1/needs/lists/{agency_list.pk}")
    errors = call(client, tokens[role], "GET", f"/api/v1/needs/lists/{agency_list.pk}/errors")
    expected = expected_status(role, post, PERSONAL_DATA_ROLES, 200)
    assert (detail.status_code, errors.status_code) == (expected, expected)
    if expected == 200:
        assert (detail.json()["id"], detail.json()["agency"]) == (agency_list.pk, "relief")
        assert [e["value"] for e in errors.json()["items"]] == [records[post]["person"].national_code]
    else:
        assert records[post]["person"].national_code not in errors.content.decode()


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_list_link(client, tokens, records, role, post, django_capture_on_commit_callbacks):
    agency_list = records[post]["list"]
    before = state()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = call(client, tokens[role], "POST", f"/api/v1/needs/lists/{agency_list.pk}/link", {})
    expected = expected_status(role, post, LINK_ROLES, 202)
    assert response.status_code == expected
    assert len(queued) == (1 if expected == 202 else 0)
    if expected == 202:  # marked, the run itself is the task's (test_api runs one)
        assert response.json()["link_status"] == "linking"
        return
    assert state() == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_reads_of_one_record(client, tokens, records, role, post):
    made = records[post]
    reads = AuditEvent.objects.filter(action="read").count()
    for path, key, value in (
        (f"/api/v1/needs/review-pairs/{made['pair'].pk}", "id", made["pair"].pk),
        (f"/api/v1/needs/persons/{made['person'].pk}/golden", "person_id", str(made["person"].pk)),
        (f"/api/v1/needs/households/{made['household'].pk}", "household_id", str(made["household"].pk)),
    ):
        response = call(client, tokens[role], "GET", path)
        expected = expected_status(role, post, PERSONAL_DATA_ROLES, 200)
        assert response.status_code == expected, path
        if expected == 200:
            assert response.json()[key] == value
        else:
            assert made["person"].national_code not in response.content.decode()
    if expected != 200:
        assert AuditEvent.objects.filter(action="read").count() == reads
    else:
        assert AuditEvent.objects.filter(action="read").count() == reads + 2  # the pair's record, the person


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_review_decision(client, tokens, records, role, post):
    pair = records[post]["pair"]
    before = state()
    response = call(
        client,
        tokens[role],
        "POST",
        f"/api/v1/needs/review-pairs/{pair.pk}/decision",
        {"decision": "same", "reason": "card"},
    )
    expected = expected_status(role, post, REVIEW_ROLES, 200)
    assert response.status_code == expected
    if expected == 200:
        assert (response.json()["decision"], response.json()["decided_by"]) == ("same", role)
        assert SourceRecord.objects.get(pk=records[post]["record"].pk).person == records[post]["person"]
        return
    assert state() == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_review_undo(client, tokens, users, records, role, post):
    from mahalle.needs.services import review_pair_decide

    pair = review_pair_decide(actor=users[Role.ADMINISTRATOR], pair=records[post]["pair"], decision="same")
    before = state()
    response = call(
        client, tokens[role], "POST", f"/api/v1/needs/review-pairs/{pair.pk}/undo", {"reason": "x"}
    )
    expected = expected_status(role, post, REVIEW_ROLES, 200)
    assert response.status_code == expected
    if expected == 200:
        assert response.json()["decision"] == ""
        assert ReviewDecision.objects.filter(pair=pair).count() == 2
        return
    assert state() == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_split_and_relink(client, tokens, records, role, post):
    made = records[post]
    SourceRecord.objects.filter(pk=made["record"].pk).update(person=made["person"], link_status="auto")
    before = state()
    split = call(
        client,
        tokens[role],
        "POST",
        f"/api/v1/needs/source-records/{made['record'].pk}/split",
        {"reason": "namesake"},
    )
    expected = expected_status(role, post, REVIEW_ROLES, 200)
    assert split.status_code == expected
    if expected != 200:
        relink = call(
            client,
            tokens[role],
            "POST",
            f"/api/v1/needs/source-records/{made['record'].pk}/relink",
            {"person_id": str(made["person"].pk)},
        )
        assert relink.status_code == expected
        assert state() == before
        return
    new_person = split.json()["person_id"]
    assert new_person != str(made["person"].pk)
    relink = call(
        client,
        tokens[role],
        "POST",
        f"/api/v1/needs/source-records/{made['record'].pk}/relink",
        {"person_id": str(made["person"].pk), "reason": "undo"},
    )
    assert (relink.status_code, relink.json()["person_id"]) == (200, str(made["person"].pk))
    assert [h["action"] for h in relink.json()["history"]] == ["split", "merge"]


@pytest.mark.parametrize("role", ROLES)
def test_supports(client, tokens, records, role):
    for made in records.values():
        SourceRecord.objects.filter(pk=made["record"].pk).update(person=made["person"], link_status="auto")
    response = call(client, tokens[role], "GET", "/api/v1/needs/supports")
    if role not in PERSONAL_DATA_ROLES:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    items = response.json()["items"]
    assert {i["household_id"] for i in items} == {str(records[p]["household"].pk) for p in VISIBLE[role]}
    for item in items:
        agencies = sorted(s["agency_code"] for s in item["own"] + item["others"])
        assert agencies == ["crescent", "relief"]
        if role in (Role.PARTNER_STAFF, Role.POST_SUPERVISOR):  # members of relief: the others are the news
            assert ([s["agency_code"] for s in item["others"]], item["own_records"][0]["record_id"][:2]) == (
                ["crescent"],
                "R-",
            )
            assert "national_code" not in str(item)
