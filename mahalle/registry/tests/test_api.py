"""Registry API: input handling, error shape, idempotency, pagination. Jurisdiction is proven role by role in
mahalle/tests/test_jurisdiction_matrix.py."""

import uuid

import pytest
from django.forms.models import model_to_dict

from mahalle.accounts.models import Role
from mahalle.accounts.services import api_token_create
from mahalle.core.identifiers import national_code_with_check_digit
from mahalle.registry.models import Household, Person
from mahalle.registry.tests.factories import PersonFactory

PERSONS = "/api/v1/registry/persons"
HOUSEHOLDS = "/api/v1/registry/households"


@pytest.fixture
def auth(users):
    """Bearer header of the post_a1 supervisor (may write in post_a1)."""
    _, secret = api_token_create(actor=None, user=users[Role.POST_SUPERVISOR], name="t")
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def post(client, auth, path, body):
    return client.post(path, data=body, content_type="application/json", **auth)


def snapshot():
    return sorted((str(p.pk), model_to_dict(p)) for p in Person.objects.all())


def new_person(tree, **fields):
    return {"org_unit": tree["post_a1"].code, "first_name": "زهرا", "last_name": "کریمی", **fields}


def test_create_normalises_and_answers_201(client, tree, auth):
    body = new_person(
        tree,
        first_name="علي",
        national_code=national_code_with_check_digit("123456789"),
        mobile="+98 912 345 6789",
        birth_date="1360/05/10",
        sex="زن",
    )
    response = post(client, auth, PERSONS, body)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["first_name"], data["mobile"], data["sex"], data["birth_date"], data["org_unit"]) == (
        "علی",
        "09123456789",
        "F",
        "1981-08-01",
        "SA1",
    )
    assert Person.objects.get(pk=data["id"]).name_key == "علیکریمی"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"national_code": "1234567890"}, "national_code", None),
        ({"mobile": "12345"}, "mobile", None),
        (
            {"first_name": "<script>alert(1)</script>"},
            "first_name",
            "contains characters not allowed in a name (< > { })",
        ),
        ({"first_name": ""}, "first_name", "is required"),
        ({"birth_date": "2999-01-01"}, "birth_date", "is in the future"),
        ({"sex": "X"}, "sex", "must be M or F (مرد / زن)"),
        ({"relation_to_head": "boss"}, "relation_to_head", None),
        ({"org_unit": "NOPE"}, "org_unit", "unknown org unit 'NOPE'"),
        ({"first_name": "a\x00b"}, "first_name", "Value error, contains control characters"),
        ({"last_name": "x" * 101}, "last_name", None),
        ({"household_id": "not-a-uuid"}, "household_id", None),
        ({"household_id": str(uuid.uuid4())}, "household_id", "no such household in your jurisdiction"),
        ({"pregnant": "maybe"}, "pregnant", None),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client, tree, auth, body, field, message):
    before = snapshot()
    response = post(client, auth, PERSONS, new_person(tree, **body))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    if message is not None:
        assert errors[0]["message"] == message
    assert snapshot() == before


def test_post_a_household_in_another_post_is_refused(client, tree, auth, people):
    response = post(
        client,
        auth,
        PERSONS,
        new_person(tree, org_unit="SA1", household_id=str(people["post_a2"].household_id)),
    )
    # post_a2 is outside a post_a1 supervisor's jurisdiction: the household is as good as absent
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "household_id"


def test_sql_in_a_name_is_stored_as_text(client, tree, auth):
    response = post(client, auth, PERSONS, new_person(tree, last_name="x'); DROP TABLE registry_person;--"))
    assert response.status_code == 201
    assert Person.objects.get(pk=response.json()["id"]).last_name == "x'); DROP TABLE registry_person;--"


def test_duplicate_national_code_is_a_422(client, tree, auth, people):
    response = post(client, auth, PERSONS, new_person(tree, national_code=people["post_b1"].national_code))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "national_code", "message": "a person with this national code is already registered"}
    ]


@pytest.mark.parametrize(
    "raw", ["{not json", "[]", '"text"', "", '{"org_unit": 5, "first_name": [], "last_name": null}']
)
def test_malformed_bodies_are_4xx_json(client, tree, auth, raw):
    response = client.post(PERSONS, data=raw, content_type="application/json", **auth)
    assert 400 <= response.status_code < 500
    assert set(response.json()) == {"detail", "errors"}
    assert Person.objects.count() == 0


@pytest.mark.parametrize("path", [f"{PERSONS}/not-a-uuid", f"{HOUSEHOLDS}/123", f"{PERSONS}/%00"])
def test_invalid_ids_in_the_path_are_422(client, auth, path):
    response = client.get(path, **auth)
    assert response.status_code == 422
    assert response.json()["detail"] == "the request is not valid"


def test_unknown_id_is_404(client, auth, people):
    response = client.get(f"{PERSONS}/{uuid.uuid4()}", **auth)
    assert response.status_code == 404
    assert response.json() == {"detail": "person not found", "errors": []}


@pytest.mark.parametrize(
    "query",
    [
        "q=%00",
        "national_code=%00",
        "mobile=abc",
        "q=" + "ی" * 600,
        "limit=0",
        "limit=1000",
        "offset=-1",
        "q=%27--",
    ],
)
def test_odd_search_input_never_fails(client, auth, people, query):
    response = client.get(f"{PERSONS}?{query}", **auth)
    assert response.status_code in (200, 422)
    if response.status_code == 200:
        assert response.json() == {"items": [], "count": 0}
    else:
        assert response.json()["detail"] == "the request is not valid"


def test_search_in_persian_digits(client, auth, people):
    person = people["post_a1"]
    persian = person.national_code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    response = client.get(f"{PERSONS}?q={persian}", **auth)
    assert [item["id"] for item in response.json()["items"]] == [str(person.pk)]


def test_list_pages(client, tree, auth):
    for n in range(5):
        PersonFactory(org_unit=tree["post_a1"], last_name=f"ب{n}")
    first = client.get(f"{PERSONS}?limit=2", **auth).json()
    second = client.get(f"{PERSONS}?limit=2&offset=2", **auth).json()
    assert (first["count"], len(first["items"]), len(second["items"])) == (5, 2, 2)
    assert [i["last_name"] for i in first["items"] + second["items"]] == ["ب0", "ب1", "ب2", "ب3"]
    last = client.get(f"{PERSONS}?limit=2&offset=4", **auth).json()  # a short page counts itself
    beyond = client.get(f"{PERSONS}?limit=2&offset=10", **auth).json()
    assert (last["count"], [i["last_name"] for i in last["items"]]) == (5, ["ب4"])
    assert (beyond["count"], beyond["items"]) == (5, [])


def test_patch_changes_only_the_fields_sent(client, auth, people):
    person = people["post_a1"]
    response = client.patch(
        f"{PERSONS}/{person.pk}", data={"mobile": "۰۹۱۲۰۰۰۱۱۲۲"}, content_type="application/json", **auth
    )
    assert response.status_code == 200
    person_after = Person.objects.get(pk=person.pk)
    assert (person_after.mobile, person_after.first_name, person_after.national_code) == (
        "09120001122",
        person.first_name,
        person.national_code,
    )


def test_patch_with_bad_input_changes_nothing(client, auth, people):
    person = people["post_a1"]
    before = snapshot()
    response = client.patch(
        f"{PERSONS}/{person.pk}",
        data={"first_name": "", "national_code": "0000000001"},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 422
    assert sorted(e["field"] for e in response.json()["errors"]) == ["first_name", "national_code"]
    assert snapshot() == before


def test_resending_the_same_client_id_returns_the_stored_record(client, tree, auth):
    client_id = str(uuid.uuid4())
    body = new_person(tree, id=client_id, national_code=national_code_with_check_digit("555000111"))
    first = post(client, auth, PERSONS, body)
    again = post(client, auth, PERSONS, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] == client_id
    assert Person.objects.filter(pk=client_id).count() == 1
    changed = post(client, auth, PERSONS, {**body, "first_name": "مریم"})
    assert changed.status_code == 409
    assert Person.objects.get(pk=client_id).first_name == "زهرا"


def test_household_with_members(client, auth, people, tree):
    head = people["post_a1"]
    child = PersonFactory(org_unit=tree["post_a1"], household=head.household, relation_to_head="child")
    response = client.get(f"{HOUSEHOLDS}/{head.household_id}", **auth)
    assert response.status_code == 200
    body = response.json()
    assert body["head_id"] == str(head.pk)
    assert {m["id"] for m in body["members"]} == {str(head.pk), str(child.pk)}


def test_household_external_id_makes_a_resend_idempotent(client, tree, auth):
    body = {"org_unit": "SA1", "address": "كوچه  ياس", "phone": "+989121112233", "external_id": "partner-7"}
    first = post(client, auth, HOUSEHOLDS, body)
    again = post(client, auth, HOUSEHOLDS, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["address"] == "کوچه یاس"
    assert Household.objects.filter(external_id="partner-7").count() == 1
    different = post(client, auth, HOUSEHOLDS, {**body, "lost_income": True})
    assert different.status_code == 409
    assert different.json()["errors"] == [
        {"field": "external_id", "message": "already used for another household"}
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"phone": "12"}, "phone"), ({"org_unit": "ZZ"}, "org_unit"), ({"address": "x" * 501}, "address")],
)
def test_household_bad_input(client, auth, tree, body, field):
    response = post(client, auth, HOUSEHOLDS, {"org_unit": "SA1", **body})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert Household.objects.count() == 0


def test_records_belong_to_a_post_not_a_county(client, users, tree):
    _, secret = api_token_create(actor=None, user=users[Role.COUNTY_COORDINATOR], name="t")
    response = post(
        client, {"HTTP_AUTHORIZATION": f"Bearer {secret}"}, HOUSEHOLDS, {"org_unit": tree["county_a"].code}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "org_unit", "message": "choose a health post (the lowest level)"}
    ]
    assert Household.objects.count() == 0


def test_openapi_document_lists_the_registry(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/registry/persons"])
    assert {"get", "patch"} <= set(paths["/api/v1/registry/persons/{person_id}"])
