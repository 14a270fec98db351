"""The aid part of the jurisdiction matrix: every route × every role × a record in each post.

Expected answers: a role without personal data (analyst) → 403 on personal routes; a record outside the caller's
subtree → 404; a role that may not do the write (or a program/warehouse outside its jurisdiction) → 403; else
success. A denied call changes nothing."""

import datetime as dt
import uuid

import pytest

from mahalle.accounts.capabilities import PERSONAL_DATA_ROLES, Can, roles_with
from mahalle.accounts.models import Role
from mahalle.aid import sms
from mahalle.aid.models import (
    Cycle,
    Delivery,
    DeliveryCode,
    Entitlement,
    EquipmentUnit,
    Loan,
    PaymentInstruction,
    Program,
    StockLevel,
    StockMove,
)
from mahalle.audit.models import AuditEvent
from mahalle.tests.test_jurisdiction_matrix import POSTS, ROLE_POST, ROLES, VISIBLE, call, snapshot

from .factories import AgencyFactory, ItemFactory, WarehouseFactory, entitlement_for, program_in, stock

PERSONAL_ROUTES = {
    ("GET", "/api/v1/aid/cycles/{cycle_id}/entitlements"): "test_lists_show_exactly_the_jurisdiction",
    ("GET", "/api/v1/aid/entitlements/due"): "test_lists_show_exactly_the_jurisdiction",
    ("GET", "/api/v1/aid/loans"): "test_lists_show_exactly_the_jurisdiction",
    ("POST", "/api/v1/aid/entitlements/{entitlement_id}/decision"): "test_decision",
    ("POST", "/api/v1/aid/entitlements/{entitlement_id}/code"): "test_code_and_delivery",
    ("POST", "/api/v1/aid/deliveries"): "test_code_and_delivery",
    ("POST", "/api/v1/aid/loans"): "test_loan_lend_and_return",
    ("POST", "/api/v1/aid/loans/{loan_id}/return"): "test_loan_lend_and_return",
    ("GET", "/api/v1/aid/cycles/{cycle_id}/payments"): "test_payments",
    ("POST", "/api/v1/aid/cycles/{cycle_id}/payment-results"): "test_payments",
}
NON_PERSONAL_ROUTES = {
    ("GET", "/api/v1/aid/programs"),
    ("POST", "/api/v1/aid/programs"),
    ("GET", "/api/v1/aid/cycles/{cycle_id}"),
    ("POST", "/api/v1/aid/cycles/{cycle_id}/run"),
    ("POST", "/api/v1/aid/cycles/{cycle_id}/approve"),
    ("GET", "/api/v1/aid/stock"),
    ("POST", "/api/v1/aid/stock/moves"),
}
PROGRAM_ROLES = roles_with(Can.MANAGE_PROGRAMS)
STOCK_ROLES = roles_with(Can.MANAGE_STOCK)
DELIVERY_ROLES = roles_with(Can.DELIVER)
# Where programs of each scope may be run and approved: the program's unit must be inside the role's units.
RUNS_NATIONAL = {Role.NATIONAL_COORDINATOR, Role.ADMINISTRATOR}
MODELS = (
    Program,
    Cycle,
    Entitlement,
    Delivery,
    DeliveryCode,
    StockLevel,
    StockMove,
    EquipmentUnit,
    Loan,
    PaymentInstruction,
)


def state():
    return [snapshot(model) for model in MODELS]


@pytest.fixture
def aid(tree, people):
    """A national in-kind program with an approved cycle (an entitlement in every post, stock at every post), a
    national cash program's approved cycle (a payment in every post), a computed cycle with a flag in every post,
    and a concentrator lent in every post."""
    item = ItemFactory(code="food")
    goods = program_in(tree["country"], item=item, code="goods")
    goods_cycle = goods.cycle_set.get()
    cash = program_in(tree["country"], kind="cash", amount=100, code="cash", category="cash")
    cash_cycle = cash.cycle_set.get()
    flagged = program_in(tree["country"], code="flagged", category="x")
    flagged_cycle = flagged.cycle_set.get()
    concentrator = ItemFactory(code="oxygen")
    made = {"goods": goods_cycle, "cash": cash_cycle, "flagged": flagged_cycle}
    for post in POSTS:
        household = people[post].household
        warehouse = WarehouseFactory(org_unit=tree[post], code=f"wh-{post}")
        stock(warehouse, item, 5)
        unit = EquipmentUnit.objects.create(
            item=concentrator,
            serial=f"OC-{post.upper()}",
            warehouse=warehouse,
            org_path=warehouse.org_path,
            status="lent",
        )
        free = EquipmentUnit.objects.create(
            item=concentrator, serial=f"FREE-{post.upper()}", warehouse=warehouse, org_path=warehouse.org_path
        )
        made[post] = {
            "entitlement": entitlement_for(goods_cycle, household, phone=f"0912000000{POSTS.index(post)}"),
            "cash": entitlement_for(cash_cycle, household, amount=100),
            "flagged": entitlement_for(flagged_cycle, household, flag="other_program"),
            "loan": Loan.objects.create(
                unit=unit,
                person=people[post],
                org_unit=tree[post],
                org_path=tree[post].path,
                lent_on=dt.date(2026, 1, 1),
                due_on=dt.date(2026, 1, 15),
                by=_system_user(),
            ),
            "free": free,
            "warehouse": warehouse,
        }
        PaymentInstruction.objects.create(entitlement=made[post]["cash"], reference=f"R-{post}", amount=100)
    Cycle.objects.filter(pk__in=[goods_cycle.pk, cash_cycle.pk]).update(status="approved")
    Cycle.objects.filter(pk=flagged_cycle.pk).update(status="computed")
    for key in ("goods", "cash", "flagged"):
        made[key].refresh_from_db()
    return made


def _system_user():
    from mahalle.accounts.tests.factories import UserFactory

    return UserFactory(username=f"system-{uuid.uuid4().hex[:6]}")


LISTS = {
    "entitlements": ("/api/v1/aid/cycles/{goods}/entitlements", "entitlement", "id"),
    "due": ("/api/v1/aid/entitlements/due", "entitlement", "id"),
    "loans": ("/api/v1/aid/loans", "loan", "id"),
}


@pytest.mark.parametrize("name", sorted(LISTS))
@pytest.mark.parametrize("role", ROLES)
def test_lists_show_exactly_the_jurisdiction(client, tokens, aid, role, name, django_assert_max_num_queries):
    path, kind, key = LISTS[name]
    with django_assert_max_num_queries(10):
        response = call(client, tokens[role], "GET", path.format(goods=aid["goods"].pk))
    if role not in PERSONAL_DATA_ROLES:
        assert response.status_code == 403
        return
    assert response.status_code == 200, response.content
    body = response.json()
    assert {str(item[key]) for item in body["items"]} == {str(aid[p][kind].pk) for p in VISIBLE[role]}
    assert body["count"] == len(VISIBLE[role])


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_decision(client, tokens, aid, role, post):
    entitlement = aid[post]["flagged"]
    before, events = state(), AuditEvent.objects.count()
    response = call(
        client,
        tokens[role],
        "POST",
        f"/api/v1/aid/entitlements/{entitlement.pk}/decision",
        {"decision": "drop"},
    )
    if role not in PERSONAL_DATA_ROLES:
        expected = 403
    elif post not in VISIBLE[role]:
        expected = 404
    elif role not in RUNS_NATIONAL:
        expected = 403
    else:
        assert response.status_code == 200, response.content
        assert Entitlement.objects.get(pk=entitlement.pk).decision == "drop"
        return
    assert response.status_code == expected
    assert (state(), AuditEvent.objects.count()) == (before, events)


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_code_and_delivery(client, tokens, aid, role, post, django_capture_on_commit_callbacks):
    entitlement = aid[post]["entitlement"]
    before, events = state(), AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        sent = call(client, tokens[role], "POST", f"/api/v1/aid/entitlements/{entitlement.pk}/code")
    if role not in PERSONAL_DATA_ROLES:
        expected = 403
    elif post not in VISIBLE[role]:
        expected = 404
    elif role not in DELIVERY_ROLES:
        expected = 403
    else:
        assert sent.status_code == 200, sent.content
        assert sent.json()["sent_to"] == entitlement.phone
        code = [m for m in sms.outbox if m["to"] == entitlement.phone][-1]["text"].rsplit(" ", 1)[1]
        body = {"id": str(uuid.uuid4()), "entitlement_id": entitlement.pk, "proof": "code", "code": code}
        response = call(client, tokens[role], "POST", "/api/v1/aid/deliveries", body)
        assert response.status_code == 201, response.content
        assert response.json()["created"] is True
        assert StockLevel.objects.get(warehouse=aid[post]["warehouse"]).quantity == 4
        again = call(client, tokens[role], "POST", "/api/v1/aid/deliveries", body)
        assert (again.status_code, again.json()["created"]) == (200, False)
        other = call(
            client, tokens[role], "POST", "/api/v1/aid/deliveries", {**body, "id": str(uuid.uuid4())}
        )
        assert other.status_code == 409
        assert other.json() == {"detail": "this entitlement has already been delivered", "errors": []}
        return
    assert sent.status_code == expected
    # a delivery attempt by the same caller is refused the same way, and nothing changes
    body = {"id": str(uuid.uuid4()), "entitlement_id": entitlement.pk, "proof": "supervisor"}
    response = call(client, tokens[role], "POST", "/api/v1/aid/deliveries", body)
    assert response.status_code == expected
    assert entitlement.head_name not in response.content.decode()
    assert (state(), AuditEvent.objects.count()) == (before, events)


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_loan_lend_and_return(client, tokens, aid, people, role, post):
    before, events = state(), AuditEvent.objects.count()
    lend = call(
        client,
        tokens[role],
        "POST",
        "/api/v1/aid/loans",
        {"serial": f"free-{post}", "person_id": str(people[post].pk), "days": 7},
    )
    back = call(client, tokens[role], "POST", f"/api/v1/aid/loans/{aid[post]['loan'].pk}/return", {})
    if role not in PERSONAL_DATA_ROLES:
        expected = (403, 403)
    elif post not in VISIBLE[role]:
        expected = (404, 404)
    elif role not in STOCK_ROLES:
        expected = (403, 403)
    else:
        assert (lend.status_code, back.status_code) == (201, 200), (lend.content, back.content)
        assert dict(
            EquipmentUnit.objects.filter(serial__endswith=post.upper()).values_list("serial", "status")
        ) == {f"FREE-{post.upper()}": "lent", f"OC-{post.upper()}": "cleaning"}
        return
    assert (lend.status_code, back.status_code) == expected
    assert (state(), AuditEvent.objects.count()) == (before, events)


@pytest.mark.parametrize("role", ROLES)
def test_payments(client, tokens, aid, role):
    cycle = aid["cash"]
    before, events = state(), AuditEvent.objects.count()
    export = call(client, tokens[role], "GET", f"/api/v1/aid/cycles/{cycle.pk}/payments")
    results = call(
        client,
        tokens[role],
        "POST",
        f"/api/v1/aid/cycles/{cycle.pk}/payment-results",
        {"items": [{"reference": f"R-{p}", "status": "paid"} for p in POSTS]},
    )
    if role in RUNS_NATIONAL:
        assert export.status_code == 200
        lines = export.content.decode("utf-8-sig").splitlines()
        assert lines[0] == "reference,national_code,name,mobile,amount"
        assert sorted(line.split(",")[0] for line in lines[1:]) == sorted(f"R-{p}" for p in POSTS)
        assert results.json()["counts"] == {"created": 4}
        return
    # the analyst (no personal data) and everyone below the national program's level: 403
    assert (export.status_code, results.status_code) == (403, 403)
    assert (state(), AuditEvent.objects.count()) == (before, events)


# --- not personal: programs, cycles, stock --------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_programs_and_cycle_detail(client, tokens, tree, aid, role):
    regional = program_in(tree["province_b"], code="only-b")
    response = call(client, tokens[role], "GET", "/api/v1/aid/programs")
    assert response.status_code == 200
    codes = {p["code"] for p in response.json()["items"]}
    sees_b = VISIBLE[role] >= {"post_b1"} or role == Role.ANALYST
    assert codes == {"goods", "cash", "flagged"} | ({"only-b"} if sees_b else set())
    detail = call(client, tokens[role], "GET", f"/api/v1/aid/cycles/{regional.cycle_set.get().pk}")
    assert detail.status_code == (200 if sees_b else 404)
    goods = call(client, tokens[role], "GET", f"/api/v1/aid/cycles/{aid['goods'].pk}").json()
    # coverage counts (aggregates) are those of the caller's own units; the analyst sits at the country
    assert goods["coverage"]["entitled"] == (4 if role == Role.ANALYST else len(VISIBLE[role]))


@pytest.mark.parametrize(
    ("role", "unit"), [(r, u) for r in ROLES for u in ("country", "province_a", "province_b")]
)
def test_program_create_run_approve(
    client, tokens, tree, aid, role, unit, django_capture_on_commit_callbacks
):
    AgencyFactory(code="red-crescent")
    before, events = state(), AuditEvent.objects.count()
    body = {
        "code": "winter",
        "name": "بسته زمستانه",
        "kind": "service",
        "category": "hot_meal",
        "agency": "red-crescent",
        "org_unit": tree[unit].code,
        "start_date": "2026-12-01",
        "rule": {},
    }
    response = call(client, tokens[role], "POST", "/api/v1/aid/programs", body)
    allowed = role in PROGRAM_ROLES and (
        unit == "country"
        and role in RUNS_NATIONAL
        or unit == "province_a"
        and role != Role.COUNTY_COORDINATOR
        or unit == "province_b"
        and role in RUNS_NATIONAL
    )
    if not allowed:
        assert response.status_code == 403
        assert (state(), AuditEvent.objects.count()) == (before, events)
        return
    assert response.status_code == 201, response.content
    cycle_id = response.json()["cycles"][0]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        run = call(client, tokens[role], "POST", f"/api/v1/aid/cycles/{cycle_id}/run")
    assert run.status_code == 202
    assert Cycle.objects.get(pk=cycle_id).entitled == {"country": 4, "province_a": 2, "province_b": 2}[unit]
    again = call(client, tokens[role], "POST", f"/api/v1/aid/cycles/{cycle_id}/run")
    assert again.status_code == 409
    approve = call(client, tokens[role], "POST", f"/api/v1/aid/cycles/{cycle_id}/approve")
    assert (approve.status_code, approve.json()["status"]) == (200, "approved")


@pytest.mark.parametrize("role", ROLES)
def test_run_and_approve_refused_for_a_national_cycle(client, tokens, aid, role):
    if role in RUNS_NATIONAL:
        return
    before, events = state(), AuditEvent.objects.count()
    run = call(client, tokens[role], "POST", f"/api/v1/aid/cycles/{aid['flagged'].pk}/run")
    approve = call(client, tokens[role], "POST", f"/api/v1/aid/cycles/{aid['flagged'].pk}/approve")
    assert (run.status_code, approve.status_code) == (403, 403)
    assert (state(), AuditEvent.objects.count()) == (before, events)


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_stock_list_and_moves(client, tokens, aid, role, post):
    listed = call(client, tokens[role], "GET", "/api/v1/aid/stock?item=food")
    assert listed.status_code == 200
    sees = {"post_a1", "post_a2", "post_b1", "post_b2"} if role == Role.ANALYST else VISIBLE[role]
    assert {row["warehouse"] for row in listed.json()["items"]} == {f"wh-{p}" for p in sees}
    before, events = state(), AuditEvent.objects.count()
    response = call(
        client,
        tokens[role],
        "POST",
        "/api/v1/aid/stock/moves",
        {"kind": "receipt", "warehouse": f"wh-{post}", "item": "food", "quantity": 3, "note": "خیرین"},
    )
    if post not in sees:
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {"field": "warehouse", "message": f"unknown warehouse 'wh-{post}'"}
        ]
    elif role not in STOCK_ROLES:
        assert response.status_code == 403
    else:
        assert response.status_code == 201
        assert StockLevel.objects.get(warehouse=aid[post]["warehouse"]).quantity == 8
        return
    assert (state(), AuditEvent.objects.count()) == (before, events)


@pytest.mark.parametrize("route", sorted(set(PERSONAL_ROUTES) | NON_PERSONAL_ROUTES))
def test_every_aid_route_refuses_anonymous_callers(client, aid, route):
    method, path = route
    path = (
        path.replace("{cycle_id}", str(aid["goods"].pk))
        .replace("{entitlement_id}", str(aid["post_a1"]["entitlement"].pk))
        .replace("{loan_id}", str(aid["post_a1"]["loan"].pk))
    )
    before = state()
    response = call(client, None, method, path, {} if method == "POST" else None)
    assert response.status_code == 401
    assert state() == before
