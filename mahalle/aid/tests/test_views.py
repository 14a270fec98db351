"""Aid pages per role: dashboard, program (run, flags, approve), phone delivery page, loans, stock, payments."""

import datetime as dt
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mahalle.accounts.capabilities import PERSONAL_DATA_ROLES
from mahalle.accounts.models import Role
from mahalle.aid import sms
from mahalle.aid.models import Cycle, Delivery, EquipmentUnit, Loan, PaymentInstruction, Program, StockLevel
from mahalle.tests.test_jurisdiction_matrix import POSTS, ROLE_POST, ROLES, VISIBLE

from .factories import AgencyFactory, ItemFactory, WarehouseFactory, entitlement_for, program_in, stock


@pytest.fixture
def aid(tree, people):
    item = ItemFactory(code="food", name="بسته غذایی")
    program = program_in(tree["country"], item=item, code="goods")
    cycle = program.cycle_set.get()
    Cycle.objects.filter(pk=cycle.pk).update(status="approved")
    made = {"program": program, "cycle": cycle}
    for post in POSTS:
        warehouse = WarehouseFactory(org_unit=tree[post], code=f"wh-{post}")
        stock(warehouse, item, 5)
        made[post] = entitlement_for(cycle, people[post].household, phone=f"0912000000{POSTS.index(post)}")
    return made


@pytest.mark.parametrize("role", ROLES)
def test_dashboard_per_role(client, users, aid, role):
    client.force_login(users[role])
    response = client.get(reverse("aid:index"))
    assert response.status_code == 200
    program = response.context["programs"][0]
    assert program.code == "goods"
    coverage = program.shown_cycles[0].coverage
    expected = 4 if role == Role.ANALYST else len(VISIBLE[role])
    assert (coverage["entitled"], coverage["pending"]) == (expected, expected)
    assert {row["warehouse__code"] for row in response.context["stock"]} == {
        f"wh-{p}" for p in (POSTS if role == Role.ANALYST else VISIBLE[role])
    }


def test_dashboard_needs_sign_in(client, aid):
    response = client.get(reverse("aid:index"))
    assert response.status_code == 302


@pytest.mark.parametrize("role", ROLES)
def test_delivery_list_per_role(client, users, aid, role):
    client.force_login(users[role])
    response = client.get(reverse("aid:deliveries"))
    if role not in PERSONAL_DATA_ROLES:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    assert {e.pk for e in response.context["due"]} == {aid[p].pk for p in VISIBLE[role]}


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_delivery_page_per_role(client, users, aid, role, post):
    client.force_login(users[role])
    url = reverse("aid:deliver", kwargs={"entitlement_id": aid[post].pk})
    response = client.get(url)
    posted = client.post(url, {"delivery_id": str(uuid.uuid4()), "proof": "supervisor"})
    if role not in PERSONAL_DATA_ROLES or role == Role.PARTNER_STAFF:
        assert (response.status_code, posted.status_code) == (403, 403)
    elif post not in VISIBLE[role]:
        assert (response.status_code, posted.status_code) == (404, 404)
    elif role == Role.FIELD_VOLUNTEER:  # may deliver, but not confirm as a supervisor
        assert (response.status_code, posted.status_code) == (200, 422)
        assert Delivery.objects.count() == 0
        return
    else:
        assert response.status_code == 200
        assert posted.status_code == 302
        assert Delivery.objects.get().entitlement == aid[post]
        return
    assert Delivery.objects.count() == 0


def test_volunteer_delivers_with_the_code(client, users, aid, django_capture_on_commit_callbacks):
    client.force_login(users[Role.FIELD_VOLUNTEER])
    entitlement = aid["post_a1"]
    url = reverse("aid:deliver", kwargs={"entitlement_id": entitlement.pk})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"action": "send_code"})
    assert response.status_code == 302
    code = [m for m in sms.outbox if m["to"] == entitlement.phone][-1]["text"].rsplit(" ", 1)[1]
    response = client.post(url, {"delivery_id": str(uuid.uuid4()), "proof": "code", "code": code})
    assert response.status_code == 302
    assert StockLevel.objects.get(warehouse__code="wh-post_a1").quantity == 4
    again = client.post(url, {"delivery_id": str(uuid.uuid4()), "proof": "code", "code": code})
    assert again.status_code == 409
    assert "already been delivered" in again.content.decode()


def test_signature_upload_on_the_phone(client, users, aid):
    client.force_login(users[Role.FIELD_VOLUNTEER])
    url = reverse("aid:deliver", kwargs={"entitlement_id": aid["post_a1"].pk})
    photo = SimpleUploadedFile("s.jpg", b"\xff\xd8\xff....", "image/jpeg")
    response = client.post(url, {"delivery_id": str(uuid.uuid4()), "proof": "signature", "proof_file": photo})
    assert response.status_code == 302
    assert Delivery.objects.get().proof == "signature"


def test_out_of_stock_on_the_page_is_a_clear_error(client, users, aid):
    StockLevel.objects.update(quantity=0)
    client.force_login(users[Role.POST_SUPERVISOR])
    url = reverse("aid:deliver", kwargs={"entitlement_id": aid["post_a1"].pk})
    response = client.post(url, {"delivery_id": str(uuid.uuid4()), "proof": "supervisor"})
    assert response.status_code == 409
    assert "not enough stock" in response.content.decode()
    assert Delivery.objects.count() == 0


@pytest.mark.parametrize("role", ROLES)
def test_program_page_run_and_approve(client, users, tree, people, role, django_capture_on_commit_callbacks):
    program = program_in(tree["province_a"], kind="service", code="meals", category="hot_meal")
    cycle = program.cycle_set.get()
    client.force_login(users[role])
    page = client.get(reverse("aid:program", kwargs={"program_id": program.pk}))
    with django_capture_on_commit_callbacks(execute=True):
        run = client.post(reverse("aid:cycle_action", kwargs={"cycle_id": cycle.pk, "action": "run"}))
    cycle.refresh_from_db()
    if role in {Role.PROVINCE_COORDINATOR, Role.NATIONAL_COORDINATOR, Role.ADMINISTRATOR}:
        assert (page.status_code, run.status_code, cycle.status, cycle.entitled) == (200, 302, "computed", 2)
        approve = client.post(reverse("aid:cycle_action", kwargs={"cycle_id": cycle.pk, "action": "approve"}))
        assert approve.status_code == 302
        assert Cycle.objects.get(pk=cycle.pk).status == "approved"
        return
    assert page.status_code == 200
    assert run.status_code == 403
    assert (cycle.status, cycle.entitlements.count()) == ("draft", 0)


def test_flags_decided_on_the_program_page(client, users, tree, people, django_capture_on_commit_callbacks):
    coordinator = users[Role.NATIONAL_COORDINATOR]
    client.force_login(coordinator)
    cycle = program_in(tree["country"], code="flagged", category="x").cycle_set.get()
    Cycle.objects.filter(pk=cycle.pk).update(status="computed")
    flagged = entitlement_for(cycle, people["post_b1"].household, flag="agency_support")
    page = client.get(reverse("aid:program", kwargs={"program_id": cycle.program_id}))
    assert [e.pk for e in page.context["flagged"]] == [flagged.pk]
    response = client.post(
        reverse("aid:entitlement_decide", kwargs={"entitlement_id": flagged.pk}),
        {"decision": "drop", "note": "served by the committee"},
    )
    assert response.status_code == 302
    flagged.refresh_from_db()
    assert (flagged.decision, flagged.decided_by) == ("drop", coordinator)


@pytest.mark.parametrize("role", ROLES)
def test_program_new_page(client, users, tree, role):
    AgencyFactory(code="imam")
    client.force_login(users[role])
    data = {
        "name": "بسته بهداشتی",
        "code": "hygiene",
        "kind": "service",
        "category": "hygiene_package",
        "agency": "imam",
        "org_unit": "PA",
        "start_date": "2026-12-01",
        "cadence": "monthly",
        "cycles": "3",
        "need_kinds": ["hygiene"],
        "min_score": "4",
    }
    response = client.post(reverse("aid:program_new"), data)
    if role in {Role.PROVINCE_COORDINATOR, Role.NATIONAL_COORDINATOR, Role.ADMINISTRATOR}:
        assert response.status_code == 302
        program = Program.objects.get()
        assert (program.rule, program.cycle_set.count()) == ({"need_kinds": ["hygiene"], "min_score": 4}, 3)
        return
    assert response.status_code == 403
    assert Program.objects.count() == 0


def test_program_new_page_shows_errors(client, users, tree):
    AgencyFactory(code="imam")
    client.force_login(users[Role.NATIONAL_COORDINATOR])
    response = client.post(
        reverse("aid:program_new"),
        {
            "name": "x",
            "code": "x",
            "kind": "cash",
            "category": "c",
            "agency": "imam",
            "org_unit": "IR",
            "start_date": "2026-12-01",
        },
    )
    assert response.status_code == 422
    assert "a cash program pays an amount above zero" in response.content.decode()


def test_loans_page(client, users, tree, people):
    supervisor = users[Role.POST_SUPERVISOR]
    client.force_login(supervisor)
    warehouse = WarehouseFactory(org_unit=tree["post_a1"])
    unit = EquipmentUnit.objects.create(
        item=ItemFactory(), serial="OC-9", warehouse=warehouse, org_path=warehouse.org_path
    )
    url = reverse("aid:loans")
    response = client.post(
        url,
        {"action": "lend", "unit": unit.pk, "national_code": people["post_a1"].national_code, "days": "3"},
    )
    assert response.status_code == 302
    loan = Loan.objects.get()
    assert (loan.person, loan.due_on - loan.lent_on) == (people["post_a1"], dt.timedelta(days=3))
    assert client.post(url, {"action": "return", "loan": loan.pk}).status_code == 302
    assert client.post(url, {"action": "cleaned", "unit": unit.pk}).status_code == 302
    assert EquipmentUnit.objects.get().status == "available"
    client.force_login(users[Role.FIELD_VOLUNTEER])
    page = client.get(url)
    assert (page.status_code, page.context["can_lend"]) == (200, False)
    refused = client.post(
        url, {"action": "lend", "unit": unit.pk, "national_code": people["post_a1"].national_code}
    )
    assert refused.status_code == 403
    assert Loan.objects.count() == 1


@pytest.mark.parametrize("role", ROLES)
def test_stock_page_receipt(client, users, tree, role):
    warehouse = WarehouseFactory(org_unit=tree["post_a1"])
    item = ItemFactory()
    client.force_login(users[role])
    response = client.post(
        reverse("aid:stock"),
        {"action": "receipt", "warehouse": warehouse.pk, "item": item.pk, "quantity": "4", "note": "خیرین"},
    )
    if role in {
        Role.POST_SUPERVISOR,
        Role.COUNTY_COORDINATOR,
        Role.PROVINCE_COORDINATOR,
        Role.NATIONAL_COORDINATOR,
        Role.ADMINISTRATOR,
    }:
        assert response.status_code == 302
        assert StockLevel.objects.get().quantity == 4
        return
    assert response.status_code == 403
    assert StockLevel.objects.count() == 0


def test_payment_results_upload(client, users, tree, people):
    coordinator = users[Role.NATIONAL_COORDINATOR]
    cycle = program_in(tree["country"], kind="cash", amount=10, code="cash", category="cash").cycle_set.get()
    Cycle.objects.filter(pk=cycle.pk).update(status="approved")
    entitlement = entitlement_for(cycle, people["post_a1"].household, amount=10)
    PaymentInstruction.objects.create(entitlement=entitlement, reference="R-1", amount=10)
    client.force_login(coordinator)
    export = client.get(reverse("aid:payments_export", kwargs={"cycle_id": cycle.pk}) + "?format=xlsx")
    assert export.status_code == 200
    assert export["Content-Type"].startswith("application/vnd.openxmlformats")
    upload = SimpleUploadedFile(
        "results.csv", b"reference,status,paid_on\nR-1,paid,2026-11-20\nR-404,paid,\n"
    )
    response = client.post(
        reverse("aid:payment_results", kwargs={"cycle_id": cycle.pk}), {"file": upload}, follow=True
    )
    body = response.content.decode()
    assert "row 3: no payment instruction &#x27;R-404&#x27;" in body
    assert PaymentInstruction.objects.get().status == "paid"
