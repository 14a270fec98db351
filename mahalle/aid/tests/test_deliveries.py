"""Deliveries with proof, once per entitlement; equipment loans; cash payment export and reconciliation."""

import datetime as dt
import threading
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from mahalle.accounts.models import Role
from mahalle.aid import selectors, services, sms
from mahalle.aid.models import Delivery, EquipmentUnit, PaymentInstruction, StockLevel, StockMove
from mahalle.audit.models import AuditEvent
from mahalle.core.errors import Conflict, InsufficientStock, NotFound, ValidationFailed

from .factories import ItemFactory, WarehouseFactory, approved_cycle, entitlement_for, program_in, stock


@pytest.fixture
def setup(tree, people):
    item = ItemFactory(name="بسته معیشتی")
    program = program_in(tree["province_a"], item=item, quantity=2)
    cycle = approved_cycle(program)
    warehouse = WarehouseFactory(org_unit=tree["post_a1"])
    stock(warehouse, item, 5)
    entitlements = {
        post: entitlement_for(cycle, people[post].household, quantity=2) for post in ("post_a1", "post_b1")
    }
    return {"item": item, "cycle": cycle, "warehouse": warehouse, "entitlements": entitlements}


def sent_code(to: str) -> str:
    message = [m for m in sms.outbox if m["to"] == to][-1]
    return message["text"].rsplit(" ", 1)[1]


def test_delivery_with_a_one_time_code(setup, users, django_capture_on_commit_callbacks):
    volunteer = users[Role.FIELD_VOLUNTEER]
    entitlement = setup["entitlements"]["post_a1"]
    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_code_send(actor=volunteer, entitlement=entitlement)
    code = sent_code(entitlement.phone)
    assert len(code) == 6
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(ValidationFailed) as exc:
        services.delivery_record(
            actor=volunteer, entitlement=entitlement, delivery_id=uuid.uuid4(), proof="code", code=wrong
        )
    assert exc.value.errors == [{"field": "code", "message": "wrong or expired code"}]
    assert Delivery.objects.count() == 0
    delivery_id = uuid.uuid4()
    delivery, created = services.delivery_record(
        actor=volunteer, entitlement=entitlement, delivery_id=delivery_id, proof="code", code=code
    )
    assert (created, delivery.pk, delivery.quantity, delivery.warehouse) == (
        True,
        delivery_id,
        2,
        setup["warehouse"],
    )
    assert StockLevel.objects.get(warehouse=setup["warehouse"]).quantity == 3
    assert StockMove.objects.filter(kind="issue").get().reference == str(delivery_id)
    assert AuditEvent.objects.get(action="deliver").object_id == str(delivery_id)
    # the phone re-sends: a no-op; another delivery: a clear 409
    again, created = services.delivery_record(
        actor=volunteer, entitlement=entitlement, delivery_id=delivery_id, proof="code", code=code
    )
    assert (again.pk, created) == (delivery_id, False)
    with pytest.raises(Conflict) as exc:
        services.delivery_record(
            actor=volunteer, entitlement=entitlement, delivery_id=uuid.uuid4(), proof="supervisor"
        )
    assert exc.value.detail == "this entitlement has already been delivered"
    assert StockLevel.objects.get(warehouse=setup["warehouse"]).quantity == 3
    assert selectors.entitlements_to_deliver(user=volunteer).count() == 0


def test_code_cannot_be_reused_or_guessed_forever(setup, users, django_capture_on_commit_callbacks):
    volunteer = users[Role.FIELD_VOLUNTEER]
    entitlement = setup["entitlements"]["post_a1"]
    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_code_send(actor=volunteer, entitlement=entitlement)
    code = sent_code(entitlement.phone)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(services.CODE_MAX_ATTEMPTS):
        with pytest.raises(ValidationFailed):
            services.delivery_record(
                actor=volunteer, entitlement=entitlement, delivery_id=uuid.uuid4(), proof="code", code=wrong
            )
    with pytest.raises(ValidationFailed):  # locked out even with the right code: send a new one
        services.delivery_record(
            actor=volunteer, entitlement=entitlement, delivery_id=uuid.uuid4(), proof="code", code=code
        )
    assert Delivery.objects.count() == 0


def test_signature_and_supervisor_proofs(setup, users):
    volunteer, supervisor = users[Role.FIELD_VOLUNTEER], users[Role.POST_SUPERVISOR]
    entitlement = setup["entitlements"]["post_a1"]
    with pytest.raises(ValidationFailed) as exc:
        services.delivery_record(
            actor=volunteer, entitlement=entitlement, delivery_id=uuid.uuid4(), proof="signature"
        )
    assert exc.value.errors == [{"field": "proof_file", "message": "attach the signature or photo"}]
    with pytest.raises(ValidationFailed) as exc:
        services.delivery_record(
            actor=volunteer, entitlement=entitlement, delivery_id=uuid.uuid4(), proof="supervisor"
        )
    assert exc.value.errors == [{"field": "proof", "message": "only a supervisor can confirm a delivery"}]
    photo = SimpleUploadedFile("sign.png", b"\x89PNG....", "image/png")
    delivery, _ = services.delivery_record(
        actor=volunteer,
        entitlement=entitlement,
        delivery_id=uuid.uuid4(),
        proof="signature",
        proof_file=photo,
    )
    assert delivery.proof_file.name.startswith("aid/proofs/")
    assert Delivery.objects.get().proof == "signature"
    assert supervisor  # a supervisor's confirmation is exercised in the jurisdiction matrix


def test_delivery_outside_jurisdiction_is_not_found(setup, users):
    with pytest.raises(NotFound):
        services.delivery_record(
            actor=users[Role.FIELD_VOLUNTEER],
            entitlement=setup["entitlements"]["post_b1"],
            delivery_id=uuid.uuid4(),
            proof="supervisor",
        )
    assert Delivery.objects.count() == 0


def test_delivery_without_stock_is_a_clear_error(setup, users):
    StockLevel.objects.update(quantity=1)
    with pytest.raises(InsufficientStock) as exc:
        services.delivery_record(
            actor=users[Role.POST_SUPERVISOR],
            entitlement=setup["entitlements"]["post_a1"],
            delivery_id=uuid.uuid4(),
            proof="supervisor",
        )
    assert exc.value.detail == "not enough stock at the post for this delivery"
    assert (Delivery.objects.count(), StockLevel.objects.get().quantity) == (0, 1)
    assert StockMove.objects.filter(kind="issue").count() == 0


def test_earliest_expiry_goes_first(setup, users):
    item, warehouse = setup["item"], setup["warehouse"]
    StockLevel.objects.all().delete()
    StockMove.objects.all().delete()
    stock(warehouse, item, 5, lot="LATE", expiry=dt.date(2027, 6, 1))
    stock(warehouse, item, 1, lot="SOON", expiry=dt.date(2027, 1, 1))
    services.delivery_record(
        actor=users[Role.POST_SUPERVISOR],
        entitlement=setup["entitlements"]["post_a1"],
        delivery_id=uuid.uuid4(),
        proof="supervisor",
    )
    assert dict(StockLevel.objects.values_list("lot", "quantity")) == {"LATE": 4, "SOON": 0}


def test_unapproved_or_dropped_entitlements_are_not_delivered(setup, users):
    entitlement = setup["entitlements"]["post_a1"]
    entitlement.decision = "drop"
    entitlement.save()
    with pytest.raises(Conflict) as exc:
        services.delivery_record(
            actor=users[Role.POST_SUPERVISOR],
            entitlement=entitlement,
            delivery_id=uuid.uuid4(),
            proof="supervisor",
        )
    assert exc.value.detail == "this entitlement was dropped by the coordinator"
    setup["cycle"].status = "computed"
    setup["cycle"].save()
    entitlement.refresh_from_db()
    with pytest.raises(Conflict) as exc:
        services.delivery_record(
            actor=users[Role.POST_SUPERVISOR],
            entitlement=entitlement,
            delivery_id=uuid.uuid4(),
            proof="supervisor",
        )
    assert exc.value.detail == "the cycle of this entitlement is not approved yet"


@pytest.mark.postgres_only
def test_two_phones_delivering_the_same_entitlement_at_once(transactional_db, users, tree, people):
    item = ItemFactory()
    cycle = approved_cycle(program_in(tree["province_a"], item=item))
    warehouse = WarehouseFactory(org_unit=tree["post_a1"])
    stock(warehouse, item, 10)
    entitlement = entitlement_for(cycle, people["post_a1"].household)
    barrier = threading.Barrier(4)
    outcomes: list = []

    def deliver():
        try:
            barrier.wait(timeout=10)
            _, created = services.delivery_record(
                actor=users[Role.POST_SUPERVISOR],
                entitlement=entitlement,
                delivery_id=uuid.uuid4(),
                proof="supervisor",
            )
            outcomes.append("delivered" if created else "exists")
        except Conflict:
            outcomes.append("refused")
        except Exception as exc:  # noqa: BLE001 - any other outcome fails the test below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["delivered", "refused", "refused", "refused"]
    assert Delivery.objects.count() == 1
    assert StockLevel.objects.get(warehouse=warehouse).quantity == 9
    assert StockMove.objects.filter(kind="issue").count() == 1


# --- equipment loans ----------------------------------------------------------------------------------------


def test_concentrator_lent_returned_cleaned_lent_again(tree, users, people):
    supervisor = users[Role.POST_SUPERVISOR]
    warehouse = WarehouseFactory(org_unit=tree["post_a1"])
    concentrator = ItemFactory(name="اکسیژن‌ساز")
    unit = services.equipment_unit_add(
        actor=supervisor, item=concentrator, serial="oc-001", warehouse=warehouse
    )
    assert unit.serial == "OC-001"
    patient = people["post_a1"]
    loan = services.loan_lend(
        actor=supervisor, unit=unit, person=patient, lent_on=dt.date(2026, 11, 1), days=10
    )
    assert (loan.due_on, EquipmentUnit.objects.get().status) == (dt.date(2026, 11, 11), "lent")
    with pytest.raises(Conflict):
        services.loan_lend(actor=supervisor, unit=unit, person=patient)
    assert [(lo.unit.serial, lo.person) for lo in selectors.loans_open(user=supervisor)] == [
        ("OC-001", patient)
    ]
    assert list(selectors.loans_overdue(user=supervisor, on=dt.date(2026, 11, 12))) == [loan]
    assert list(selectors.loans_overdue(user=supervisor, on=dt.date(2026, 11, 11))) == []
    with pytest.raises(NotFound):  # a patient outside the jurisdiction
        services.loan_lend(actor=supervisor, unit=unit, person=people["post_b1"])
    services.loan_return(actor=supervisor, loan=loan, on=dt.date(2026, 11, 9))
    assert EquipmentUnit.objects.get().status == "cleaning"
    with pytest.raises(Conflict):
        services.loan_lend(actor=supervisor, unit=unit, person=patient)
    with pytest.raises(Conflict):
        services.loan_return(actor=supervisor, loan=loan)
    services.equipment_unit_cleaned(actor=supervisor, unit=unit)
    second = services.loan_lend(actor=supervisor, unit=unit, person=patient)
    assert list(selectors.loans_open(user=supervisor)) == [second]
    assert list(selectors.loans_open(user=users[Role.FIELD_VOLUNTEER])) == [second]


# --- cash -----------------------------------------------------------------------------------------------------


def test_payments_export_and_results_reconciled(tree, users, people, django_capture_on_commit_callbacks):
    coordinator = users[Role.PROVINCE_COORDINATOR]
    program = program_in(tree["province_a"], kind="cash", amount=5000, code="cash")
    cycle = program.cycle_set.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.cycle_run_request(actor=coordinator, cycle=cycle)
    cycle.refresh_from_db()
    with pytest.raises(Conflict):
        services.payments_export_rows(actor=coordinator, cycle=cycle)
    services.cycle_approve(actor=coordinator, cycle=cycle)
    rows = services.payments_export_rows(actor=coordinator, cycle=cycle)
    assert sorted(r[1] for r in rows) == sorted(people[p].national_code for p in ("post_a1", "post_a2"))
    assert {r[4] for r in rows} == {"5000"}
    first, second = sorted(r[0] for r in rows)
    results = services.payment_results_import(
        actor=coordinator,
        cycle=cycle,
        rows=[
            {"reference": first, "status": "paid", "paid_on": "2026-11-20"},
            {"reference": second, "status": "failed", "note": "بسته بودن حساب"},
            {"reference": "cash-1-999999", "status": "paid"},
            {"reference": first, "status": "maybe"},
        ],
    )
    assert [(r.id, r.status, r.errors) for r in results] == [
        (first, "created", []),
        (second, "created", []),
        (
            "cash-1-999999",
            "invalid",
            [{"field": "reference", "message": "row 4: no payment instruction 'cash-1-999999'"}],
        ),
        (first, "invalid", [{"field": "status", "message": "row 5: must be paid or failed"}]),
    ]
    assert dict(PaymentInstruction.objects.values_list("reference", "status")) == {
        first: "paid",
        second: "failed",
    }
    again = services.payment_results_import(
        actor=coordinator, cycle=cycle, rows=[{"reference": first, "status": "paid", "paid_on": "2026-11-20"}]
    )
    assert again[0].status == "exists"
    coverage = selectors.cycle_coverage(user=coordinator, cycle=cycle)
    assert (coverage["entitled"], coverage["paid"], coverage["pending"]) == (2, 1, 1)
