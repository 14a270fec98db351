"""The jurisdiction matrix: every API endpoint that exposes personal data × every role × a record inside and
outside the caller's subtree, with the exact status and proof that nothing outside leaks or changes.

Roles sit where accounts.tests.factories.ROLE_HOME puts them (the "a" side of the test tree); the `people`
fixture has one person (head of their own household) in each of post_a1, post_a2, post_b1, post_b2.

`test_every_route_is_covered` fails for any route of the API that is neither in a PERSONAL_ROUTES (and so
exercised by a matrix test) nor in a NON_PERSONAL_ROUTES: a new endpoint must be added to one of them,
deliberately. Each app keeps its own part of the matrix in `mahalle/<app>/tests/test_jurisdiction.py`, with the
same two names; the inventory below gathers them all. Shared helpers (`call`, `snapshot`, POSTS, VISIBLE) live
here; the `tokens` fixture is in the root conftest.py.
"""

import importlib
import pkgutil

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms.models import model_to_dict
from django.utils import timezone

import mahalle
from config.api import api
from mahalle.accounts.capabilities import (
    AUDIT_ROLES,
    IMPORT_ROLES,
    PERSONAL_DATA_ROLES,
    PERSONAL_DATA_WRITE_ROLES,
)
from mahalle.accounts.models import ApiToken, Role
from mahalle.audit.models import AuditEvent
from mahalle.audit.services import audit_record
from mahalle.core.identifiers import national_code_with_check_digit
from mahalle.registry.models import Household, ImportJob, ImportRowError, Person

POSTS = ("post_a1", "post_a2", "post_b1", "post_b2")

# The posts whose records each role may read, from where it sits in the tree.
VISIBLE = {
    Role.FIELD_VOLUNTEER: {"post_a1"},
    Role.POST_SUPERVISOR: {"post_a1"},
    Role.COUNTY_COORDINATOR: {"post_a1", "post_a2"},
    Role.PROVINCE_COORDINATOR: {"post_a1", "post_a2"},
    Role.NATIONAL_COORDINATOR: set(POSTS),
    Role.PARTNER_STAFF: {"post_a1", "post_a2"},
    Role.ANALYST: set(),
    Role.ADMINISTRATOR: set(POSTS),
}
ROLES = list(Role)
ROLE_POST = [(role, post) for role in ROLES for post in POSTS]

# Every route that exposes personal data, each exercised by the matrix tests below.
PERSONAL_ROUTES = {
    ("GET", "/api/v1/registry/persons"): "test_person_list_*, test_person_search_*",
    ("POST", "/api/v1/registry/persons"): "test_person_create",
    ("GET", "/api/v1/registry/persons/{person_id}"): "test_person_detail",
    ("PATCH", "/api/v1/registry/persons/{person_id}"): "test_person_update",
    ("GET", "/api/v1/registry/households"): "test_household_list",
    ("POST", "/api/v1/registry/households"): "test_household_create",
    ("GET", "/api/v1/registry/households/{household_id}"): "test_household_detail",
    ("GET", "/api/v1/audit/events"): "test_audit_events",
    ("POST", "/api/v1/registry/imports/"): "test_import_upload",
    ("GET", "/api/v1/registry/imports/{job_id}"): "test_import_job_and_its_row_errors",
    ("GET", "/api/v1/registry/imports/{job_id}/errors"): "test_import_job_and_its_row_errors",
}
# Routes that expose no personal record: the org-unit tree, and the caller's own account.
NON_PERSONAL_ROUTES = {
    ("GET", "/api/v1/org-units/"),
    ("GET", "/api/v1/org-units/{code}"),
    ("GET", "/api/v1/accounts/me"),
    ("POST", "/api/v1/accounts/tokens"),
}


def call(client, secret, method, path, body=None):
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    if body is not None:
        kwargs.update(data=body, content_type="application/json")
    return getattr(client, method.lower())(path, **kwargs)


def snapshot(model):
    return sorted((str(row.pk), model_to_dict(row)) for row in model.objects.all())


def api_routes() -> set[tuple[str, str]]:
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    return {(method.upper(), path) for path, operations in schema["paths"].items() for method in operations}


# --- the route inventory ------------------------------------------------------------------------------------


def all_matrix_routes() -> tuple[set, set]:
    """PERSONAL_ROUTES and NON_PERSONAL_ROUTES of this module and of every app's tests/test_jurisdiction.py."""
    personal, non_personal = set(PERSONAL_ROUTES), set(NON_PERSONAL_ROUTES)
    for app in pkgutil.iter_modules(mahalle.__path__):
        try:
            module = importlib.import_module(f"mahalle.{app.name}.tests.test_jurisdiction")
        except ModuleNotFoundError as exc:
            if exc.name not in (f"mahalle.{app.name}.tests", f"mahalle.{app.name}.tests.test_jurisdiction"):
                raise
            continue
        personal |= set(getattr(module, "PERSONAL_ROUTES", {}))
        non_personal |= set(getattr(module, "NON_PERSONAL_ROUTES", set()))
    return personal, non_personal


def test_every_route_is_covered():
    routes = api_routes()
    personal, non_personal = all_matrix_routes()
    uncovered = routes - personal - non_personal
    assert uncovered == set(), (
        f"add these routes to the jurisdiction matrix (or the non-personal list): {uncovered}"
    )
    stale = (personal | non_personal) - routes
    assert stale == set(), f"the matrix lists routes that no longer exist: {stale}"


def _concrete(path: str, people) -> str:
    person = people["post_a1"]
    return (
        path.replace("{person_id}", str(person.pk))
        .replace("{household_id}", str(person.household_id))
        .replace("{code}", "IR")
        .replace("{job_id}", "1")
    )


@pytest.mark.parametrize("route", sorted(set(PERSONAL_ROUTES) | NON_PERSONAL_ROUTES))
def test_every_route_refuses_anonymous_callers(client, people, route):
    method, path = route
    before = (snapshot(Person), snapshot(Household))
    response = call(
        client, None, method, _concrete(path, people), {} if method in ("POST", "PATCH") else None
    )
    assert response.status_code == 401
    assert response.json()["detail"].startswith("authentication required")
    assert (snapshot(Person), snapshot(Household)) == before


# --- persons -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_person_list_shows_exactly_the_jurisdiction(
    client, tokens, people, role, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):
        response = call(client, tokens[role], "GET", "/api/v1/registry/persons")
    if role not in PERSONAL_DATA_ROLES:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    body = response.json()
    assert {item["id"] for item in body["items"]} == {str(people[post].pk) for post in VISIBLE[role]}
    assert body["count"] == len(VISIBLE[role])


@pytest.mark.parametrize("field", ["national_code", "mobile", "q"])
@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_person_search_never_crosses_jurisdiction(
    client, tokens, people, role, post, field, django_assert_max_num_queries
):
    person = people[post]
    value = person.last_name if field == "q" else getattr(person, field)
    with django_assert_max_num_queries(6):
        response = call(client, tokens[role], "GET", f"/api/v1/registry/persons?{field}={value}")
    if role not in PERSONAL_DATA_ROLES:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    ids = [item["id"] for item in response.json()["items"]]
    assert ids == ([str(person.pk)] if post in VISIBLE[role] else [])


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_person_detail(client, tokens, people, role, post):
    person = people[post]
    reads_before = AuditEvent.objects.filter(action="read").count()
    response = call(client, tokens[role], "GET", f"/api/v1/registry/persons/{person.pk}")
    if role not in PERSONAL_DATA_ROLES:
        assert response.status_code == 403
    elif post not in VISIBLE[role]:
        assert response.status_code == 404
        assert response.json() == {"detail": "person not found", "errors": []}
    else:
        assert response.status_code == 200
        body = response.json()
        assert (body["id"], body["national_code"], body["org_unit"]) == (
            str(person.pk),
            person.national_code,
            person.org_unit.code,
        )
        assert body["household"]["id"] == str(person.household_id)
        event = AuditEvent.objects.get(action="read", object_id=str(person.pk))
        assert event.actor_username == role
        return
    assert person.national_code not in response.content.decode()
    assert AuditEvent.objects.filter(action="read").count() == reads_before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_person_update(client, tokens, people, role, post):
    person = people[post]
    before = snapshot(Person)
    events_before = AuditEvent.objects.count()
    response = call(
        client, tokens[role], "PATCH", f"/api/v1/registry/persons/{person.pk}", {"father_name": "حسین"}
    )
    if role in PERSONAL_DATA_WRITE_ROLES and post in VISIBLE[role]:
        assert response.status_code == 200
        assert response.json()["father_name"] == "حسین"
        person.refresh_from_db()
        assert person.father_name == "حسین"
        assert AuditEvent.objects.filter(action="update", object_id=str(person.pk)).count() == 1
        return
    if role not in PERSONAL_DATA_ROLES:
        expected = 403
    elif post not in VISIBLE[role]:
        expected = 404
    else:  # a read-only role inside its jurisdiction
        expected = 403
    assert response.status_code == expected
    assert person.national_code not in response.content.decode()
    assert snapshot(Person) == before
    assert AuditEvent.objects.count() == events_before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_person_create(client, tree, tokens, people, role, post):
    before = snapshot(Person)
    code = national_code_with_check_digit("777000111")
    response = call(
        client,
        tokens[role],
        "POST",
        "/api/v1/registry/persons",
        {"org_unit": tree[post].code, "first_name": "زهرا", "last_name": "کریمی", "national_code": code},
    )
    if role in PERSONAL_DATA_WRITE_ROLES and post in VISIBLE[role]:
        assert response.status_code == 201
        created = Person.objects.get(national_code=code)
        assert (response.json()["id"], created.org_unit, created.created_by.username) == (
            str(created.pk),
            tree[post],
            role,
        )
        return
    # analyst (role), partner staff (read-only), or a post outside the subtree: refused, nothing written
    assert response.status_code == 403
    assert snapshot(Person) == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_person_create_into_a_household(client, tree, tokens, people, role, post):
    """Naming a household outside the jurisdiction is the same as naming one that does not exist."""
    if role not in PERSONAL_DATA_WRITE_ROLES:
        return
    household = people[post].household
    before = snapshot(Person)
    response = call(
        client,
        tokens[role],
        "POST",
        "/api/v1/registry/persons",
        {
            "org_unit": tree[post].code,
            "household_id": str(household.pk),
            "first_name": "زهرا",
            "last_name": "کریمی",
            "relation_to_head": "child",
        },
    )
    if post in VISIBLE[role]:
        assert response.status_code == 201
        assert response.json()["household"]["id"] == str(household.pk)
        return
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "household_id", "message": "no such household in your jurisdiction"}
    ]
    assert snapshot(Person) == before


# --- households ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_household_list(client, tokens, people, role, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        response = call(client, tokens[role], "GET", "/api/v1/registry/households")
    if role not in PERSONAL_DATA_ROLES:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    body = response.json()
    assert {item["id"] for item in body["items"]} == {
        str(people[post].household_id) for post in VISIBLE[role]
    }
    assert body["count"] == len(VISIBLE[role])


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_household_detail(client, tokens, people, role, post):
    household = people[post].household
    response = call(client, tokens[role], "GET", f"/api/v1/registry/households/{household.pk}")
    if role not in PERSONAL_DATA_ROLES:
        assert response.status_code == 403
    elif post not in VISIBLE[role]:
        assert response.status_code == 404
        assert response.json() == {"detail": "household not found", "errors": []}
    else:
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == str(household.pk)
        assert [m["id"] for m in body["members"]] == [str(people[post].pk)]
        return
    assert people[post].national_code not in response.content.decode()


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_household_create(client, tree, tokens, people, role, post):
    before = snapshot(Household)
    response = call(
        client,
        tokens[role],
        "POST",
        "/api/v1/registry/households",
        {"org_unit": tree[post].code, "address": "کوچه نسترن", "phone": "09121234567"},
    )
    if role in PERSONAL_DATA_WRITE_ROLES and post in VISIBLE[role]:
        assert response.status_code == 201
        created = Household.objects.get(pk=response.json()["id"])
        assert (created.org_unit, created.phone) == (tree[post], "09121234567")
        return
    assert response.status_code == 403
    assert snapshot(Household) == before


# --- audit log -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_audit_events(client, tokens, users, people, role, post, django_assert_max_num_queries):
    person = people[post]
    audit_record(
        actor=users[Role.ADMINISTRATOR], action="update", obj=person, details={"changed": {"x": [1, 2]}}
    )
    with django_assert_max_num_queries(6):
        response = call(client, tokens[role], "GET", f"/api/v1/audit/events?object_id={person.pk}")
    if role not in AUDIT_ROLES:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    items = response.json()["items"]
    if post in VISIBLE[role]:
        assert [(e["object_id"], e["action"], e["org_unit"]) for e in items] == [
            (str(person.pk), "update", person.org_unit.code)
        ]
    else:
        assert items == []


@pytest.mark.parametrize("role", sorted(AUDIT_ROLES))
def test_audit_list_holds_only_the_subtree(client, tokens, users, people, role):
    for person in people.values():
        audit_record(actor=users[Role.ADMINISTRATOR], action="update", obj=person)
    response = call(client, tokens[role], "GET", "/api/v1/audit/events?object_type=registry.person&limit=200")
    assert response.status_code == 200
    assert {e["object_id"] for e in response.json()["items"]} == {str(people[p].pk) for p in VISIBLE[role]}


# --- imports -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_import_upload(client, tree, tokens, people, role, post):
    before = (snapshot(Person), snapshot(Household))
    upload = SimpleUploadedFile(
        "persons.csv", "national_code,first_name,last_name\n0000000000,زهرا,کریمی\n".encode(), "text/csv"
    )
    response = client.post(
        "/api/v1/registry/imports/",
        data={"kind": "persons", "org_unit": tree[post].code, "file": upload},
        HTTP_AUTHORIZATION=f"Bearer {tokens[role]}",
    )
    if role in IMPORT_ROLES and post in VISIBLE[role]:
        assert response.status_code == 202
        job = ImportJob.objects.get(pk=response.json()["id"])
        assert (job.org_unit, job.created_by.username) == (tree[post], role)
        return
    assert response.status_code == 403
    assert ImportJob.objects.count() == 0
    assert (snapshot(Person), snapshot(Household)) == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_import_job_and_its_row_errors(client, tree, tokens, people, role, post):
    job = ImportJob.objects.create(
        kind="persons",
        file_name="p.csv",
        file_path="/nonexistent/p.csv",
        file_sha256="0" * 64,
        org_unit=tree[post],
    )
    secret_value = people[post].national_code
    ImportRowError.objects.create(
        job=job, row_number=2, field="national_code", message="duplicate", value=secret_value
    )
    detail = call(client, tokens[role], "GET", f"/api/v1/registry/imports/{job.pk}")
    errors = call(client, tokens[role], "GET", f"/api/v1/registry/imports/{job.pk}/errors")
    if post in VISIBLE[role]:
        assert (detail.status_code, detail.json()["org_unit"]) == (200, tree[post].code)
        assert errors.status_code == 200
        assert [(e["row_number"], e["value"]) for e in errors.json()["items"]] == [(2, secret_value)]
        return
    # outside the jurisdiction, or a role without personal data (analyst): as if the job did not exist
    assert (detail.status_code, errors.status_code) == (404, 404)
    assert secret_value not in errors.content.decode()


# --- tokens --------------------------------------------------------------------------------------------------


def test_post_a1_volunteer_token_cannot_read_post_b1(client, tokens, people):
    response = call(
        client, tokens[Role.FIELD_VOLUNTEER], "GET", f"/api/v1/registry/persons/{people['post_b1'].pk}"
    )
    assert response.status_code == 404


def test_api_key_header_is_accepted(client, tokens, people):
    person = people["post_a1"]
    response = client.get(
        f"/api/v1/registry/persons/{person.pk}", HTTP_X_API_KEY=tokens[Role.FIELD_VOLUNTEER]
    )
    assert (response.status_code, response.json()["id"]) == (200, str(person.pk))


def test_revoked_token_is_refused(client, tokens, people):
    secret = tokens[Role.NATIONAL_COORDINATOR]
    ApiToken.objects.filter(key_hash=ApiToken.hash(secret)).update(revoked_at=timezone.now())
    response = call(client, secret, "GET", f"/api/v1/registry/persons/{people['post_a1'].pk}")
    assert response.status_code == 401
    assert people["post_a1"].national_code not in response.content.decode()


def test_token_of_a_deactivated_user_is_refused(client, tokens, users, people):
    users[Role.NATIONAL_COORDINATOR].is_active = False
    users[Role.NATIONAL_COORDINATOR].save()
    response = call(client, tokens[Role.NATIONAL_COORDINATOR], "GET", "/api/v1/registry/persons")
    assert response.status_code == 401


def test_unknown_token_is_refused(client, people):
    response = call(client, "mhl_" + "x" * 43, "GET", "/api/v1/registry/persons")
    assert response.status_code == 401
