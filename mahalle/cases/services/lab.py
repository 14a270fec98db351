"""Test orders and lab results: referrals become test orders, samples are recorded, results arrive (by the lab's
sample id) and classify the person's case (services/case.py)."""

import datetime as dt

from django.db import IntegrityError, transaction

from mahalle.accounts.capabilities import Can, require
from mahalle.accounts.selectors import personal_data_paths, personal_record_visible
from mahalle.audit.services import audit_record, audit_record_many
from mahalle.core.batch import CONFLICT, CREATED, EXISTS, INVALID, ItemResult
from mahalle.core.errors import Conflict, PermissionDenied, ValidationFailed, field_error
from mahalle.core.persian import normalize_text
from mahalle.core.service import service

from ..models import Alert, TestOrder, TestResult
from ..rules import KIND_WORDS, RESULT_WORDS, lab_word, normalize_sample_id
from ._common import _as_date, _not_future, _today
from .case import _case_apply_results


@service
def test_order_create_for_referral(*, actor, member_screening) -> TestOrder:
    """A referral from screening becomes a test order (one per screened member; re-recording changes nothing)."""
    existing = TestOrder.objects.filter(member_screening=member_screening).first()
    if existing is not None:
        return existing
    return test_orders_create_for_referrals(actor=actor, member_screenings=[member_screening])[0]


@service
def test_orders_create_for_referrals(*, actor, member_screenings: list) -> list[TestOrder]:
    """Test orders for newly recorded referrals (a phone batch's), with the urgent ones' alerts, written in
    one insert each and audited in bulk: a batch of 100 visits must not cost hundreds of queries."""
    orders = [
        TestOrder(
            person_id=row.person_id,
            member_screening=row,
            org_unit_id=row.person.org_unit_id,
            org_path=row.person.org_path,
            urgent=row.outcome == "urgent",
            reasons=row.reasons,
            created_by=actor,
            modified_by=actor,
        )
        for row in member_screenings
    ]
    TestOrder.objects.bulk_create(orders)
    alerts = [
        Alert(
            kind=Alert.Kind.URGENT_REFERRAL,
            person_id=order.person_id,
            message="; ".join(r.get("en", "") for r in order.reasons)[:500],
            org_unit_id=order.org_unit_id,
            org_path=order.org_path,
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        for order in orders
        if order.urgent
    ]
    Alert.objects.bulk_create(alerts)
    audit_record_many(
        actor=actor,
        action="create",
        object_type="cases.testorder",
        rows=[(str(o.pk), o.org_path) for o in orders],
        details={"source": "screening referral"},
    )
    audit_record_many(
        actor=actor,
        action="create",
        object_type="cases.alert",
        rows=[(str(a.pk), a.org_path) for a in alerts],
        details={"kind": Alert.Kind.URGENT_REFERRAL},
    )
    return orders


test_order_create_for_referral.__test__ = False  # a service, not a pytest test
test_orders_create_for_referrals.__test__ = False


@service
def test_order_create(*, actor, person, reasons: list[dict], urgent: bool = False) -> TestOrder:
    """Order a test for a person outside a screening visit (a traced contact with symptoms). One open order per
    person: an order already waiting for its sample or result is returned as it is."""
    existing = TestOrder.objects.filter(
        person=person, status__in=[TestOrder.Status.ORDERED, TestOrder.Status.SAMPLED]
    ).first()
    if existing is not None:
        return existing
    order = TestOrder.objects.create(
        person=person,
        org_unit_id=person.org_unit_id,
        org_path=person.org_path,
        urgent=urgent,
        reasons=reasons,
        created_by=actor,
        modified_by=actor,
    )
    audit_record(
        actor=actor, action="create", obj=order, details={"reasons": [r.get("code") for r in reasons]}
    )
    return order


test_order_create.__test__ = False  # not a pytest test, whatever its name


def _sample_taken_elsewhere() -> Conflict:
    return Conflict(
        "this sample id is already used for another test order",
        [field_error("sample_id", "already used for another test order")],
    )


@service
def test_order_sample(
    *, actor, order: TestOrder, sample_id: str, kind: str, lab: str = "", sampled_on: dt.date | None = None
) -> TestOrder:
    """The sample is taken: the lab's sample id is what its result will arrive by. Re-sending the same sample
    for the same order changes nothing; a sample id already used for another order is a conflict."""
    require(actor, Can.MANAGE_CASES, "your role may not record samples")
    if not personal_record_visible(user=actor, org_path=order.org_path):
        raise PermissionDenied("this test order is outside your jurisdiction")
    order = TestOrder.objects.select_for_update().get(pk=order.pk)
    errors = []
    sample = normalize_sample_id(sample_id)
    if not sample:
        errors.append(field_error("sample_id", "is required"))
    elif len(sample) > 64:
        errors.append(field_error("sample_id", "is longer than 64 characters"))
    kind_ = lab_word(kind, KIND_WORDS)
    if not kind_:
        errors.append(field_error("kind", "must be pcr or antigen"))
    sampled_on = sampled_on or _today()
    _not_future(sampled_on, "sampled_on", errors)
    if sampled_on < order.created_at.date() - dt.timedelta(days=1):
        errors.append(field_error("sampled_on", "is before the referral"))
    if errors:
        raise ValidationFailed("the sample could not be recorded", errors)
    if order.sample_id == sample and order.kind == kind_:
        return order  # the same sample sent again
    if order.status not in (TestOrder.Status.ORDERED, TestOrder.Status.SAMPLED):
        raise Conflict(
            "this test order already has a result or was cancelled",
            [field_error("sample_id", f"the order is {order.status}")],
        )
    if TestOrder.objects.filter(sample_id=sample).exclude(pk=order.pk).exists():
        raise _sample_taken_elsewhere()
    old = order.sample_id
    order.sample_id, order.kind, order.lab = sample, kind_, normalize_text(lab)[:200]
    order.sampled_on, order.status, order.modified_by = sampled_on, TestOrder.Status.SAMPLED, actor
    try:
        with transaction.atomic():
            order.save(
                update_fields=[
                    "sample_id",
                    "kind",
                    "lab",
                    "sampled_on",
                    "status",
                    "modified_by",
                    "modified_at",
                ]
            )
    except IntegrityError as exc:  # another request took the sample id meanwhile
        raise _sample_taken_elsewhere() from exc
    audit_record(
        actor=actor,
        action="update",
        obj=order,
        details={"sample_id": [old, sample], "kind": kind_, "lab": order.lab},
    )
    return order


test_order_sample.__test__ = False


def _clean_lab_item(raw: dict) -> tuple[dict, list]:
    errors: list = []
    sample = normalize_sample_id(raw.get("sample_id"))
    if not sample:
        errors.append(field_error("sample_id", "is required"))
    kind = lab_word(raw.get("kind"), KIND_WORDS)
    if not kind:
        errors.append(field_error("kind", "must be pcr or antigen"))
    result = lab_word(raw.get("result"), RESULT_WORDS)
    if not result:
        errors.append(field_error("result", "must be positive, negative or inconclusive"))
    result_date = _as_date(raw.get("result_date"), "result_date", errors)
    if result_date is None and not any(e["field"] == "result_date" for e in errors):
        errors.append(field_error("result_date", "is required"))
    _not_future(result_date, "result_date", errors)
    lab = normalize_text(raw.get("lab"))[:200]
    return {
        "sample_id": sample,
        "kind": kind,
        "result": result,
        "result_date": result_date,
        "lab": lab,
    }, errors


def _lab_item_answer(result: ItemResult, order: TestOrder | None, clean: dict, errors: list) -> bool:
    """Settle an item that will not be stored (invalid, exists, conflict); True when it was settled."""
    if clean["sample_id"] and order is None:
        errors = [field_error("sample_id", "no test order has this sample id in your jurisdiction"), *errors]
    if errors:
        result.status, result.errors = INVALID, errors
        return True
    if clean["kind"] != order.kind and order.kind:
        result.status = INVALID
        result.errors = [field_error("kind", f"the sample was taken for a {order.kind} test")]
        return True
    if order.sampled_on and clean["result_date"] < order.sampled_on:
        result.status = INVALID
        result.errors = [field_error("result_date", "is before the sample was taken")]
        return True
    if order.status == TestOrder.Status.RESULTED:
        if (order.result, order.result_date) == (clean["result"], clean["result_date"]):
            result.status = EXISTS
        else:
            result.status = CONFLICT
            result.errors = [
                field_error(
                    "result",
                    f"the sample already has the result {order.result} of {order.result_date}; "
                    "a correction goes through a supervisor, with a reason",
                )
            ]
        return True
    if order.status == TestOrder.Status.CANCELLED:
        result.status, result.errors = INVALID, [field_error("sample_id", "the test order was cancelled")]
        return True
    return False


@service
def lab_results_record(*, actor, items: list[dict]) -> list[ItemResult]:
    """Record a batch of lab results keyed by the lab's sample id. One ItemResult per item (its id is the
    sample id), in order:

    - created: the result is stored; a positive creates or upgrades the person's case;
    - exists: the same result was already stored for this sample (a re-sent file or call changes nothing);
    - conflict: the sample already has a different result (corrections: `test_result_correct`, with a reason);
    - invalid: the item is wrong (unknown sample id, bad kind/result/date) — its errors say how.

    Valid items are stored even when others are invalid. The batch is one transaction (the test orders are
    locked in sample id order first): every stored result, its case and their audit events commit together.
    Samples outside the actor's jurisdiction are unknown.
    """
    require(actor, Can.MANAGE_CASES, "your role may not record lab results")
    results = [
        ItemResult(id=normalize_sample_id(item.get("sample_id")) or str(index))
        for index, item in enumerate(items)
    ]
    cleaned = [_clean_lab_item(item) for item in items]
    samples = sorted({c["sample_id"] for c, _ in cleaned if c["sample_id"]})
    orders = {
        o.sample_id: o
        for o in TestOrder.objects.within_any(personal_data_paths(user=actor))
        .filter(sample_id__in=samples)
        .select_related("person", "member_screening")
        .select_for_update(of=("self",))
        .order_by("pk")
    }
    for index, (clean, errors) in enumerate(cleaned):
        order = orders.get(clean["sample_id"]) if clean["sample_id"] else None
        if _lab_item_answer(results[index], order, clean, errors):
            continue
        _result_store(actor=actor, order=order, clean=clean)
        results[index].status = CREATED
    return results


def _result_store(*, actor, order: TestOrder, clean: dict) -> None:
    order.kind = clean["kind"]
    order.result, order.result_date = clean["result"], clean["result_date"]
    order.lab = clean["lab"] or order.lab
    order.status, order.modified_by = TestOrder.Status.RESULTED, actor
    order.save(update_fields=["kind", "result", "result_date", "lab", "status", "modified_by", "modified_at"])
    audit_record(
        actor=actor,
        action="update",
        obj=order,
        details={"sample_id": order.sample_id, "result": order.result, "result_date": str(order.result_date)},
    )
    _case_apply_results(
        actor=actor, order=order, why=f"{order.get_kind_display()} result of sample {order.sample_id}"
    )


@service
def test_result_correct(
    *, actor, order: TestOrder, result: str, result_date: dt.date, reason: str
) -> TestOrder:
    """A supervisor corrects a stored lab result (the lab reported an error). The reason is kept in the audit
    log and on the case's history; the case is classified again (and may move down, e.g. to discarded)."""
    require(actor, Can.MANAGE_CASES, "your role may not correct lab results")
    if not personal_record_visible(user=actor, org_path=order.org_path):
        raise PermissionDenied("this test order is outside your jurisdiction")
    order = (
        TestOrder.objects.select_for_update(of=("self",))
        .select_related("person", "member_screening")
        .get(pk=order.pk)
    )
    errors = []
    result_ = lab_word(result, RESULT_WORDS)
    if not result_:
        errors.append(field_error("result", "must be positive, negative or inconclusive"))
    _not_future(result_date, "result_date", errors)
    reason = normalize_text(reason)[:500]
    if not reason:
        errors.append(field_error("reason", "is required: say why the result is corrected"))
    if order.status != TestOrder.Status.RESULTED:
        errors.append(field_error("result", "the sample has no result to correct yet"))
    if errors:
        raise ValidationFailed("the result could not be corrected", errors)
    old = (order.result, str(order.result_date))
    was_positive = order.result == TestResult.POSITIVE
    order.result, order.result_date, order.modified_by = result_, result_date, actor
    order.save(update_fields=["result", "result_date", "modified_by", "modified_at"])
    audit_record(
        actor=actor,
        action="update",
        obj=order,
        details={
            "correction": {"result": [old[0], result_], "result_date": [old[1], str(result_date)]},
            "reason": reason,
        },
    )
    _case_apply_results(
        actor=actor,
        order=order,
        why=f"result of sample {order.sample_id} corrected to {result_}: {reason}",
        allow_downgrade=True,
        count_positive=not was_positive,
    )
    return order


test_result_correct.__test__ = False
