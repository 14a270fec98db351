"""Writes of the health side: test orders, lab results, cases, isolation, follow-ups and alerts.

Every function is atomic and writes its audit event in the same transaction.

Who may do what (jurisdiction always applies on top: a record outside the actor's subtree is unknown to them):
- sample a referral, record or correct lab results, change a case's classification, hospitalisation or outcome,
  start and release isolation, resolve alerts: CASE_ROLES — post supervisors (for their post), county, province
  and national coordinators, administrators. Labs post results with an API token of such a user (a
  coordinator's or an administrator's account set up for the lab); there is no separate lab role.
- create quarantine places: PLACE_ROLES — coordinators and administrators, inside their jurisdiction.
- record daily follow-ups: every role that may write personal data (field volunteers included).
"""

import datetime as dt
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from mahalle.accounts.models import PERSONAL_DATA_WRITE_ROLES, Role
from mahalle.accounts.selectors import org_unit_in_jurisdiction, personal_data_paths
from mahalle.analytics.tasks import rt_refresh_after_commit
from mahalle.audit.services import audit_record, audit_record_many
from mahalle.core.batch import (
    CONFLICT,
    CREATED,
    EXISTS,
    INVALID,
    RETRY,
    ItemResult,
    item_id_settled,
    uuid_or_none,
)
from mahalle.core.dates import InvalidDate, parse_date
from mahalle.core.errors import DomainError, PermissionDenied, ValidationFailed, field_error
from mahalle.core.persian import normalize_text
from mahalle.registry.models import Person
from mahalle.screening.rules import SYMPTOMS

from . import rules
from .models import (
    Alert,
    Case,
    CaseChange,
    Classification,
    FollowUp,
    Isolation,
    Outcome,
    QuarantinePlace,
    TestOrder,
    TestResult,
)

CASE_ROLES = frozenset(
    {
        Role.POST_SUPERVISOR,
        Role.COUNTY_COORDINATOR,
        Role.PROVINCE_COORDINATOR,
        Role.NATIONAL_COORDINATOR,
        Role.ADMINISTRATOR,
    }
)
PLACE_ROLES = CASE_ROLES - {Role.POST_SUPERVISOR}
FOLLOW_UP_ROLES = PERSONAL_DATA_WRITE_ROLES
SPO2_RANGE = (50, 100)
DETERIORATION_SPO2 = 93  # below this a follow-up raises an urgent alert
# Automatic changes (from lab results) only move a case up this scale; moving down takes a supervisor's reason.
RANK = {
    Classification.DISCARDED: 0,
    Classification.SUSPECTED: 1,
    Classification.PROBABLE: 2,
    Classification.CONFIRMED: 3,
}

KIND_WORDS = {
    "pcr": "pcr",
    "rt-pcr": "pcr",
    "rtpcr": "pcr",
    "antigen": "antigen",
    "ag": "antigen",
    "rat": "antigen",
    "rapid antigen": "antigen",
    "rapid_antigen": "antigen",
    "آنتی‌ژن": "antigen",
}
RESULT_WORDS = {
    "positive": "positive",
    "pos": "positive",
    "+": "positive",
    "مثبت": "positive",
    "negative": "negative",
    "neg": "negative",
    "-": "negative",
    "منفی": "negative",
    "inconclusive": "inconclusive",
    "invalid": "inconclusive",
    "نامشخص": "inconclusive",
}


class Conflict(DomainError):
    status_code = 409


# --- helpers ------------------------------------------------------------------------------------------------


def _require(actor, roles, message: str) -> None:
    if actor is None or not actor.is_authenticated or not actor.has_role(roles):
        raise PermissionDenied(message)


def _visible(actor, org_path: str) -> bool:
    return any(org_path.startswith(path) for path in personal_data_paths(user=actor))


def _today() -> dt.date:
    return timezone.localdate()


def _as_date(value, field: str, errors: list) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return parse_date(value)[0]
    except InvalidDate as exc:
        errors.append(field_error(field, str(exc)))
        return None


def _not_future(value: dt.date | None, field: str, errors: list) -> None:
    if value is not None and value > _today():
        errors.append(field_error(field, "is in the future"))


def isolation_policy() -> rules.IsolationPolicy:
    days = getattr(settings, "MAHALLE_ISOLATION_DAYS_AFTER_ONSET", 10)
    return rules.IsolationPolicy(
        days_after_onset=days,
        symptom_free_days=getattr(settings, "MAHALLE_ISOLATION_SYMPTOM_FREE_DAYS", 3),
        days_without_onset=getattr(settings, "MAHALLE_ISOLATION_DAYS_WITHOUT_ONSET", days),
    )


# --- test orders and lab results ----------------------------------------------------------------------------


@transaction.atomic
def test_order_create_for_referral(*, actor, member_screening) -> TestOrder:
    """A referral from screening becomes a test order (one per screened member; re-recording changes nothing)."""
    existing = TestOrder.objects.filter(member_screening=member_screening).first()
    if existing is not None:
        return existing
    return test_orders_create_for_referrals(actor=actor, member_screenings=[member_screening])[0]


@transaction.atomic
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


@transaction.atomic
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
    audit_record(actor=actor, action="create", obj=order, details={"reasons": [r.get("code") for r in reasons]})
    return order


test_order_create.__test__ = False  # not a pytest test, whatever its name


def normalize_sample_id(value) -> str:
    return normalize_text(value).replace(" ", "").upper()


def _word(value, words: dict) -> str:
    return words.get(normalize_text(value).lower(), "")


@transaction.atomic
def test_order_sample(
    *, actor, order: TestOrder, sample_id: str, kind: str, lab: str = "", sampled_on: dt.date | None = None
) -> TestOrder:
    """The sample is taken: the lab's sample id is what its result will arrive by. Re-sending the same sample
    for the same order changes nothing; a sample id already used for another order is a conflict."""
    _require(actor, CASE_ROLES, "your role may not record samples")
    if not _visible(actor, order.org_path):
        raise PermissionDenied("this test order is outside your jurisdiction")
    order = TestOrder.objects.select_for_update().get(pk=order.pk)
    errors = []
    sample = normalize_sample_id(sample_id)
    if not sample:
        errors.append(field_error("sample_id", "is required"))
    elif len(sample) > 64:
        errors.append(field_error("sample_id", "is longer than 64 characters"))
    kind_ = _word(kind, KIND_WORDS)
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
        raise Conflict(
            "this sample id is already used for another test order",
            [field_error("sample_id", "already used for another test order")],
        )
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
        raise Conflict(
            "this sample id is already used for another test order",
            [field_error("sample_id", "already used for another test order")],
        ) from exc
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
    kind = _word(raw.get("kind"), KIND_WORDS)
    if not kind:
        errors.append(field_error("kind", "must be pcr or antigen"))
    result = _word(raw.get("result"), RESULT_WORDS)
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


def lab_results_record(*, actor, items: list[dict]) -> list[ItemResult]:
    """Record a batch of lab results keyed by the lab's sample id. One ItemResult per item (its id is the
    sample id), in order:

    - created: the result is stored; a positive creates or upgrades the person's case;
    - exists: the same result was already stored for this sample (a re-sent file or call changes nothing);
    - conflict: the sample already has a different result (corrections: `test_result_correct`, with a reason);
    - invalid: the item is wrong (unknown sample id, bad kind/result/date) — its errors say how.

    Valid items are stored even when others are invalid. Samples outside the actor's jurisdiction are unknown.
    """
    _require(actor, CASE_ROLES, "your role may not record lab results")
    results = [
        ItemResult(id=normalize_sample_id(item.get("sample_id")) or str(index))
        for index, item in enumerate(items)
    ]
    cleaned = [_clean_lab_item(item) for item in items]
    samples = sorted({c["sample_id"] for c, _ in cleaned if c["sample_id"]})
    with transaction.atomic():
        orders = {
            o.sample_id: o
            for o in TestOrder.objects.within_any(personal_data_paths(user=actor))
            .filter(sample_id__in=samples)
            .select_related("person", "member_screening")
            .select_for_update(of=("self",))
            .order_by("pk")
        }
        for index, (clean, errors) in enumerate(cleaned):
            result = results[index]
            order = orders.get(clean["sample_id"]) if clean["sample_id"] else None
            if clean["sample_id"] and order is None:
                errors = [
                    field_error("sample_id", "no test order has this sample id in your jurisdiction"),
                    *errors,
                ]
            if errors:
                result.status, result.errors = INVALID, errors
                continue
            if clean["kind"] != order.kind and order.kind:
                result.status = INVALID
                result.errors = [field_error("kind", f"the sample was taken for a {order.kind} test")]
                continue
            if order.sampled_on and clean["result_date"] < order.sampled_on:
                result.status = INVALID
                result.errors = [field_error("result_date", "is before the sample was taken")]
                continue
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
                continue
            if order.status == TestOrder.Status.CANCELLED:
                result.status, result.errors = (
                    INVALID,
                    [field_error("sample_id", "the test order was cancelled")],
                )
                continue
            _result_store(actor=actor, order=order, clean=clean)
            result.status = CREATED
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


@transaction.atomic
def test_result_correct(
    *, actor, order: TestOrder, result: str, result_date: dt.date, reason: str
) -> TestOrder:
    """A supervisor corrects a stored lab result (the lab reported an error). The reason is kept in the audit
    log and on the case's history; the case is classified again (and may move down, e.g. to discarded)."""
    _require(actor, CASE_ROLES, "your role may not correct lab results")
    if not _visible(actor, order.org_path):
        raise PermissionDenied("this test order is outside your jurisdiction")
    order = (
        TestOrder.objects.select_for_update(of=("self",))
        .select_related("person", "member_screening")
        .get(pk=order.pk)
    )
    errors = []
    result_ = _word(result, RESULT_WORDS)
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


def _case_apply_results(*, actor, order: TestOrder, why: str, allow_downgrade=False, count_positive=True):
    """Classify the person again from every result they have (cases.rules.classify): a positive creates the
    case or moves it up; a negative PCR discards a suspected case; nothing else moves a case down by itself."""
    person = order.person
    screening = order.member_screening
    # One writer at a time per person (two labs' results for one person must not both create a case).
    list(Person.objects.select_for_update().filter(pk=person.pk).values_list("pk"))
    case = (
        Case.objects.select_for_update()
        .filter(person=person, outcome="")
        .exclude(classification=Classification.DISCARDED)
        .first()
    )
    symptomatic = bool(screening and screening.symptoms)
    epi_link = bool(screening and screening.known_contact) or bool(case and case.epi_link)
    tests = [
        rules.TestEvidence(kind=kind, result=result)
        for kind, result in TestOrder.objects.filter(person=person, status=TestOrder.Status.RESULTED)
        .exclude(kind="")
        .values_list("kind", "result")
    ]
    classification, reason = rules.classify(symptomatic=symptomatic, epi_link=epi_link, tests=tests)
    reason = f"{why}: {reason}"[:500]
    if (
        order.result == TestResult.POSITIVE
        and count_positive
        and not TestOrder.objects.filter(person=person, result=TestResult.POSITIVE)
        .exclude(pk=order.pk)
        .exists()
    ):
        from mahalle.screening.services import coverage_record_positive  # screening imports this module

        coverage_record_positive(person=person, on=order.result_date)
    if case is None:
        if order.result != TestResult.POSITIVE:
            return None
        case = Case.objects.create(
            person=person,
            classification=classification,
            onset_date=screening.onset_date if screening else None,
            epi_link=epi_link,
            org_unit_id=person.org_unit_id,
            org_path=person.org_path,
            created_by=actor,
            modified_by=actor,
        )
        CaseChange.objects.create(
            case=case,
            actor=actor,
            field="classification",
            old_value="",
            new_value=classification,
            reason=reason,
        )
        audit_record(actor=actor, action="create", obj=case, details={"classification": classification})
        rt_refresh_after_commit(org_unit_ids=[case.org_unit_id])
        _tracing_case_created(actor=actor, case=case)
        return case
    current = case.classification
    moves_up = RANK[classification] > RANK[current]
    discards = current == Classification.SUSPECTED and classification == Classification.DISCARDED
    if classification != current and (moves_up or discards or allow_downgrade):
        _case_change(actor=actor, case=case, field="classification", new=classification, reason=reason)
        if classification == Classification.CONFIRMED:
            _tracing_case_created(actor=actor, case=case)
    return case


def _tracing_case_created(*, actor, case: Case) -> None:
    """A new (or newly confirmed) case joins its transmission chain and gets its household listed as contacts."""
    from mahalle.tracing.services import case_created  # tracing imports this module at load time

    case_created(actor=actor, case=case)


def _as_text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def _case_change(*, actor, case: Case, field: str, new, reason: str, extra: dict | None = None) -> None:
    old = getattr(case, field)
    setattr(case, field, new)
    for name, value in (extra or {}).items():
        setattr(case, name, value)
    case.modified_by = actor
    case.save(update_fields=[field, *(extra or {}), "modified_by", "modified_at"])
    CaseChange.objects.create(
        case=case,
        actor=actor,
        field=field,
        old_value=_as_text(old),
        new_value=_as_text(new),
        reason=reason[:500],
    )
    if field == "classification":
        rt_refresh_after_commit(org_unit_ids=[case.org_unit_id])
    audit_record(
        actor=actor,
        action="update",
        obj=case,
        details={
            field: [str(old), str(new)],
            "reason": reason[:500],
            **{k: str(v) for k, v in (extra or {}).items()},
        },
    )


# --- cases --------------------------------------------------------------------------------------------------


def _case_for_update(actor, case: Case, message: str) -> Case:
    _require(actor, CASE_ROLES, message)
    if not _visible(actor, case.org_path):
        raise PermissionDenied("this case is outside your jurisdiction")
    return Case.objects.select_for_update(of=("self",)).select_related("person").get(pk=case.pk)


@transaction.atomic
def case_classification_change(*, actor, case: Case, classification: str, reason: str) -> Case:
    """A supervisor's manual change of classification, with the reason (kept on the case's history)."""
    case = _case_for_update(actor, case, "your role may not classify cases")
    errors = []
    if classification not in Classification.values:
        errors.append(field_error("classification", f"must be one of {', '.join(Classification.values)}"))
    reason = normalize_text(reason)
    if not reason:
        errors.append(field_error("reason", "is required: say why the classification changes"))
    if case.outcome:
        errors.append(field_error("classification", "the case is closed (recovered or died)"))
    if errors:
        raise ValidationFailed("the classification could not be changed", errors)
    if classification == case.classification:
        return case
    if (
        case.classification == Classification.DISCARDED
        and Case.objects.filter(person_id=case.person_id, outcome="")
        .exclude(classification=Classification.DISCARDED)
        .exists()
    ):
        raise Conflict(
            "the person already has another open case",
            [field_error("classification", "reopening this case would give the person two open cases")],
        )
    _case_change(actor=actor, case=case, field="classification", new=classification, reason=reason)
    if classification == Classification.CONFIRMED:
        _tracing_case_created(actor=actor, case=case)
    return case


@transaction.atomic
def case_hospitalisation_record(*, actor, case: Case, on: dt.date, reason: str = "") -> Case:
    case = _case_for_update(actor, case, "your role may not record hospitalisations")
    errors = []
    _not_future(on, "on", errors)
    if case.onset_date and on < case.onset_date - dt.timedelta(days=14):
        errors.append(field_error("on", "is long before the onset"))
    if case.hospitalised:
        errors.append(field_error("on", "the case is already recorded as hospitalised"))
    if errors:
        raise ValidationFailed("the hospitalisation could not be recorded", errors)
    _case_change(
        actor=actor,
        case=case,
        field="hospitalised",
        new=True,
        reason=normalize_text(reason) or "admitted to hospital",
        extra={"hospitalised_on": on},
    )
    return case


@transaction.atomic
def case_outcome_record(*, actor, case: Case, outcome: str, on: dt.date, reason: str = "") -> Case:
    """Recovered or died, with the date. A death releases the person's active isolation. A death of a
    household head is picked up by `selectors.household_head_deaths` (aid side: 12-month support)."""
    case = _case_for_update(actor, case, "your role may not record outcomes")
    errors = []
    if outcome not in (Outcome.RECOVERED, Outcome.DIED):
        errors.append(field_error("outcome", "must be recovered or died"))
    _not_future(on, "on", errors)
    if case.onset_date and on < case.onset_date:
        errors.append(field_error("on", "is before the onset"))
    if case.outcome:
        errors.append(field_error("outcome", f"the case is already closed ({case.outcome})"))
    if case.classification == Classification.DISCARDED:
        errors.append(field_error("outcome", "the case was discarded"))
    if errors:
        raise ValidationFailed("the outcome could not be recorded", errors)
    _case_change(
        actor=actor,
        case=case,
        field="outcome",
        new=outcome,
        reason=normalize_text(reason) or outcome,
        extra={"outcome_date": on},
    )
    if outcome == Outcome.DIED:
        # A household head's death is the household's lost breadwinner: the aid side's 12-month support reads it.
        from mahalle.needs.services import needs_record_from_death  # needs imports cases models

        needs_record_from_death(actor=actor, case=case)
        isolation = Isolation.objects.filter(person_id=case.person_id, released_on=None).first()
        if isolation is not None:
            _isolation_release(
                actor=actor, isolation=isolation, on=max(on, isolation.start_date), reason="died"
            )
    return case


# --- quarantine places and isolation ------------------------------------------------------------------------


@transaction.atomic
def quarantine_place_create(*, actor, org_unit, name: str, capacity: int) -> QuarantinePlace:
    _require(actor, PLACE_ROLES, "your role may not create quarantine places")
    if not org_unit_in_jurisdiction(user=actor, unit=org_unit):
        raise PermissionDenied("the org unit is outside your jurisdiction")
    errors = []
    name = normalize_text(name)[:200]
    if not name:
        errors.append(field_error("name", "is required"))
    if not isinstance(capacity, int) or capacity < 1 or capacity > 100_000:
        errors.append(field_error("capacity", "must be a whole number from 1 to 100000"))
    if errors:
        raise ValidationFailed("the quarantine place could not be created", errors)
    place = QuarantinePlace.objects.create(
        org_unit=org_unit,
        org_path=org_unit.path,
        name=name,
        capacity=capacity,
        created_by=actor,
        modified_by=actor,
    )
    audit_record(actor=actor, action="create", obj=place, org_unit=org_unit, details={"capacity": capacity})
    return place


class PlaceFull(ValidationFailed):
    pass


def _place_take(place_id) -> QuarantinePlace:
    """Take one place: the row is locked (select_for_update), checked, and incremented with F(). SQLite has no
    row locks but serialises writers; the check constraint is the last guard on both databases."""
    place = QuarantinePlace.objects.select_for_update().get(pk=place_id)
    if place.occupied >= place.capacity:
        raise PlaceFull(
            "the quarantine place is full",
            [
                field_error(
                    "place_id", f"'{place.name}' is full: {place.occupied} of {place.capacity} places taken"
                )
            ],
        )
    QuarantinePlace.objects.filter(pk=place_id).update(occupied=F("occupied") + 1)
    return place


def _place_free(place_id) -> None:
    QuarantinePlace.objects.select_for_update().filter(pk=place_id).get()
    QuarantinePlace.objects.filter(pk=place_id, occupied__gt=0).update(occupied=F("occupied") - 1)


def isolation_start(
    *,
    actor,
    person,
    case: Case | None = None,
    setting: str,
    place: QuarantinePlace | None = None,
    start_date: dt.date,
    onset_date: dt.date | None = None,
    last_symptom_date: dt.date | None = None,
) -> Isolation:
    """Put a person into isolation at home or in a quarantine place. The planned end follows the policy in
    settings (MAHALLE_ISOLATION_DAYS_AFTER_ONSET, default 10; MAHALLE_ISOLATION_SYMPTOM_FREE_DAYS, default 3).
    A full quarantine place is refused (PlaceFull, 422); a person already in isolation is a conflict."""
    _require(actor, CASE_ROLES, "your role may not start isolation")
    if not _visible(actor, person.org_path):
        raise PermissionDenied("this person is outside your jurisdiction")
    errors = []
    today = _today()
    if setting not in Isolation.Setting.values:
        errors.append(field_error("setting", "must be home or facility"))
    if setting == Isolation.Setting.FACILITY and place is None:
        errors.append(field_error("place_id", "is required for isolation in a quarantine place"))
    if setting == Isolation.Setting.HOME and place is not None:
        errors.append(field_error("place_id", "is only for isolation in a quarantine place"))
    if place is not None and not person.org_path.startswith(place.org_path):
        errors.append(field_error("place_id", "the quarantine place does not serve this person's post"))
    if case is not None:
        if case.person_id != person.pk:
            errors.append(field_error("case_id", "is the case of another person"))
        elif case.outcome or case.classification == Classification.DISCARDED:
            errors.append(field_error("case_id", "the case is closed or discarded"))
        onset_date = onset_date or case.onset_date
    if start_date is None:
        errors.append(field_error("start_date", "is required"))
    else:
        _not_future(start_date, "start_date", errors)
        if start_date < today - dt.timedelta(days=30):
            errors.append(field_error("start_date", "is more than 30 days ago"))
    _not_future(onset_date, "onset_date", errors)
    _not_future(last_symptom_date, "last_symptom_date", errors)
    if onset_date and last_symptom_date and last_symptom_date < onset_date:
        errors.append(field_error("last_symptom_date", "is before the onset"))
    if errors:
        raise ValidationFailed("the isolation could not be started", errors)
    planned_end = rules.planned_isolation_end(
        start=start_date, onset=onset_date, last_symptom_day=last_symptom_date, policy=isolation_policy()
    )
    try:
        with transaction.atomic():
            if Isolation.objects.filter(person=person, released_on=None).exists():
                raise Conflict(
                    "the person is already in isolation",
                    [field_error("person_id", "already has an active isolation; release it first")],
                )
            if place is not None:
                _place_take(place.pk)  # lock the place first, then write: one fixed order
            isolation = Isolation.objects.create(
                person=person,
                case=case,
                setting=setting,
                place=place,
                start_date=start_date,
                onset_date=onset_date,
                last_symptom_date=last_symptom_date,
                planned_end_date=planned_end,
                org_unit_id=person.org_unit_id,
                org_path=person.org_path,
                created_by=actor,
                modified_by=actor,
            )
            audit_record(
                actor=actor,
                action="create",
                obj=isolation,
                details={
                    "setting": setting,
                    "place": str(place.pk) if place else "",
                    "planned_end": str(planned_end),
                },
            )
    except IntegrityError as exc:
        if "quarantine_place_not_over_capacity" in str(exc):  # the constraint, the guard behind the lock
            raise PlaceFull("the quarantine place is full", [field_error("place_id", "is full")]) from exc
        # a concurrent start for the same person won the unique constraint
        raise Conflict(
            "the person is already in isolation",
            [field_error("person_id", "already has an active isolation; release it first")],
        ) from exc
    return isolation


def _isolation_release(*, actor, isolation: Isolation, on: dt.date, reason: str) -> Isolation:
    isolation.released_on, isolation.release_reason, isolation.modified_by = on, reason[:200], actor
    isolation.save(update_fields=["released_on", "release_reason", "modified_by", "modified_at"])
    if isolation.place_id:
        _place_free(isolation.place_id)
    audit_record(
        actor=actor, action="update", obj=isolation, details={"released_on": str(on), "reason": reason}
    )
    return isolation


@transaction.atomic
def isolation_release(*, actor, isolation: Isolation, on: dt.date, reason: str = "") -> Isolation:
    _require(actor, CASE_ROLES, "your role may not release isolation")
    if not _visible(actor, isolation.org_path):
        raise PermissionDenied("this isolation is outside your jurisdiction")
    isolation = Isolation.objects.select_for_update().get(pk=isolation.pk)
    errors = []
    if isolation.released_on is not None:
        errors.append(field_error("on", f"the isolation was already released on {isolation.released_on}"))
    _not_future(on, "on", errors)
    if on is not None and on < isolation.start_date:
        errors.append(field_error("on", "is before the isolation started"))
    if errors:
        raise ValidationFailed("the isolation could not be released", errors)
    return _isolation_release(
        actor=actor, isolation=isolation, on=on, reason=normalize_text(reason) or "released"
    )


# --- alerts -------------------------------------------------------------------------------------------------


def alert_raise(
    *, actor, kind: str, person, message: str, isolation=None, day: dt.date | None = None
) -> Alert:
    """An item on the post supervisor's list. Not deduplicated here: callers raise once per event (alerts about an
    isolation's day are unique per kind, isolation and day — see the model's constraint)."""
    alert = Alert.objects.create(
        kind=kind,
        person=person,
        isolation=isolation,
        day=day,
        message=message[:500],
        org_unit_id=person.org_unit_id,
        org_path=person.org_path,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(actor=actor, action="create", obj=alert, details={"kind": kind})
    return alert


@transaction.atomic
def alert_resolve(*, actor, alert: Alert, note: str = "") -> Alert:
    _require(actor, CASE_ROLES, "your role may not resolve alerts")
    if not _visible(actor, alert.org_path):
        raise PermissionDenied("this alert is outside your jurisdiction")
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.resolved_at is not None:
        return alert
    alert.resolved_at, alert.resolved_by = timezone.now(), actor
    alert.save(update_fields=["resolved_at", "resolved_by", "modified_at"])
    audit_record(
        actor=actor,
        action="update",
        obj=alert,
        details={"resolved": True, "note": normalize_text(note)[:500]},
    )
    return alert


@transaction.atomic
def missed_follow_ups_flag(*, day: dt.date) -> int:
    """One MISSED_FOLLOW_UP alert per isolation active on `day` that has no follow-up dated `day`. Idempotent: the
    (kind, isolation, day) constraint makes a second run create nothing. Returns the alerts created."""
    from django.db.models import Exists, OuterRef, Q

    done = FollowUp.objects.filter(isolation=OuterRef("pk"), date=day)
    flagged = Alert.objects.filter(isolation=OuterRef("pk"), kind=Alert.Kind.MISSED_FOLLOW_UP, day=day)
    missing = (
        Isolation.objects.filter(start_date__lte=day)
        .filter(Q(released_on=None) | Q(released_on__gt=day))
        .exclude(Exists(done))
        .exclude(Exists(flagged))
        .values_list("pk", "person_id", "org_unit_id", "org_path")
    )
    alerts = [
        Alert(
            id=uuid.uuid4(),
            kind=Alert.Kind.MISSED_FOLLOW_UP,
            person_id=person_id,
            isolation_id=isolation_id,
            day=day,
            message=f"no follow-up on {day.isoformat()}",
            org_unit_id=org_unit_id,
            org_path=org_path,
        )
        for isolation_id, person_id, org_unit_id, org_path in missing
    ]
    Alert.objects.bulk_create(alerts, batch_size=1000, ignore_conflicts=True)
    created = Alert.objects.filter(pk__in=[a.pk for a in alerts]).values_list("pk", "org_path")
    rows = [(str(pk), path) for pk, path in created]
    audit_record_many(
        actor=None,
        action="create",
        object_type="cases.alert",
        rows=rows,
        details={"kind": "missed_follow_up"},
    )
    return len(rows)


# --- daily follow-ups ---------------------------------------------------------------------------------------


def _clean_follow_up(raw: dict, isolation: Isolation, need_kinds) -> tuple[dict | None, list]:
    errors: list = []
    day = _as_date(raw.get("date"), "date", errors)
    if day is None and not errors:
        errors.append(field_error("date", "is required"))
    if day is not None:
        if day > _today():
            errors.append(field_error("date", "is in the future"))
        elif day < isolation.start_date:
            errors.append(field_error("date", "is before the isolation started"))
        elif isolation.released_on is not None and day > isolation.released_on:
            errors.append(field_error("date", "is after the person was released from isolation"))
    method = raw.get("method") or FollowUp.Method.CALL
    if method not in FollowUp.Method.values:
        errors.append(field_error("method", "must be call or visit"))
    reached = raw.get("reached", True)
    reached = True if reached is None else bool(reached)
    symptoms = list(dict.fromkeys(raw.get("symptoms") or []))
    unknown = [s for s in symptoms if s not in SYMPTOMS]
    if unknown:
        errors.append(field_error("symptoms", f"unknown symptom(s): {', '.join(map(str, unknown))}"))
    spo2 = raw.get("spo2")
    if spo2 is not None and (not isinstance(spo2, int) or not SPO2_RANGE[0] <= spo2 <= SPO2_RANGE[1]):
        errors.append(field_error("spo2", f"must be between {SPO2_RANGE[0]} and {SPO2_RANGE[1]}"))
    needs = list(dict.fromkeys(raw.get("needs") or []))
    if any(n not in need_kinds for n in needs):
        errors.append(field_error("needs", f"must be among {', '.join(need_kinds)}"))
    if not reached and (symptoms or spo2 is not None):
        errors.append(field_error("reached", "a person not reached has no answers"))
    if errors:
        return None, errors
    return {
        "date": day,
        "method": method,
        "reached": reached,
        "symptoms": symptoms,
        "spo2": spo2,
        "needs": needs,
    }, []


def _deterioration(clean: dict, previous_symptoms: set) -> list[str]:
    reasons = []
    if clean["spo2"] is not None and clean["spo2"] < DETERIORATION_SPO2:
        reasons.append(f"SpO2 {clean['spo2']}% (below {DETERIORATION_SPO2}%)")
    if "shortness_of_breath" in clean["symptoms"] and "shortness_of_breath" not in previous_symptoms:
        reasons.append("new shortness of breath")
    return reasons


def follow_ups_record(*, actor, items: list[dict]) -> list:
    """Record a phone's batch of daily follow-ups; one `core.batch.ItemResult` per item, in order.

    Each item: id (the phone's UUID), isolation_id, date, method (call/visit), reached, symptoms, spo2, needs.

    - created / exists (the same id again: nothing changes) / conflict (the id was used for another follow-up,
      or the isolation already has a follow-up that day under another id) / invalid (with the errors);
    - retry: the isolation is not known here (yet) — the phone's batch may hold the follow-up of an isolation
      started on another device and not synced yet. Nothing is stored; the phone keeps the item and sends it
      again later. (Chosen over accept-and-link-later: a follow-up without its isolation has no jurisdiction.)

    Deterioration (SpO2 below 93% or new shortness of breath) raises an urgent alert for the supervisor.
    """
    _require(actor, FOLLOW_UP_ROLES, "your role may not record follow-ups")
    from mahalle.screening.services import NEED_KINDS  # screening imports this module at load time

    results = [ItemResult(id=str(item.get("id"))) for item in items]
    ids = [uuid_or_none(item.get("id")) for item in items]
    existing = {f.pk: f for f in FollowUp.objects.filter(pk__in=[i for i in ids if i])}
    isolation_ids = {uuid_or_none(item.get("isolation_id")) for item in items} - {None}
    isolations = {
        i.pk: i
        for i in Isolation.objects.within_any(personal_data_paths(user=actor))
        .filter(pk__in=isolation_ids)
        .select_related("person")
    }
    taken_days = set(
        FollowUp.objects.filter(isolation_id__in=list(isolations)).values_list("isolation_id", "date")
    )
    accepted = []
    seen_ids: set = set()
    for index, item in enumerate(items):
        result, fid = results[index], ids[index]
        if item_id_settled(
            result,
            fid,
            existing=existing,
            seen=seen_ids,
            what="follow-up",
            same=lambda prior, item=item: str(prior.isolation_id) == str(item.get("isolation_id"))
            and prior.date == _as_date(item.get("date"), "date", []),
        ):
            continue
        try:
            isolation = isolations.get(uuid.UUID(str(item.get("isolation_id"))))
        except ValueError:
            result.status, result.errors = INVALID, [field_error("isolation_id", "must be a UUID")]
            continue
        if isolation is None:
            result.status = RETRY
            result.errors = [
                field_error(
                    "isolation_id",
                    "this isolation is not known here yet; keep the follow-up and send it again later",
                )
            ]
            continue
        clean, errors = _clean_follow_up(item, isolation, NEED_KINDS)
        if errors:
            result.status, result.errors = INVALID, errors
            continue
        if (isolation.pk, clean["date"]) in taken_days:
            result.status = CONFLICT
            result.errors = [field_error("date", "this isolation already has a follow-up on this day")]
            continue
        taken_days.add((isolation.pk, clean["date"]))
        accepted.append((index, fid, isolation, clean))
    if accepted:
        try:
            _write_follow_ups(actor=actor, accepted=accepted, results=results)
        except IntegrityError:
            # Another request stored one of these meanwhile: one at a time, so each item gets its own answer.
            for entry in accepted:
                try:
                    _write_follow_ups(actor=actor, accepted=[entry], results=results)
                except IntegrityError:
                    stored = FollowUp.objects.filter(pk=entry[1]).exists()
                    results[entry[0]].status = EXISTS if stored else CONFLICT
                    if not stored:
                        results[entry[0]].errors = [
                            field_error("date", "this isolation already has a follow-up on this day")
                        ]
    return results


@transaction.atomic
def _write_follow_ups(*, actor, accepted, results) -> None:
    rows = [
        FollowUp(
            id=fid,
            isolation=isolation,
            date=clean["date"],
            method=clean["method"],
            reached=clean["reached"],
            symptoms=clean["symptoms"],
            spo2=clean["spo2"],
            needs=clean["needs"],
            by=actor,
            org_unit_id=isolation.org_unit_id,
            org_path=isolation.org_path,
            created_by=actor,
            modified_by=actor,
        )
        for _index, fid, isolation, clean in accepted
    ]
    FollowUp.objects.bulk_create(rows)
    for index, _fid, isolation, clean in accepted:
        results[index].status = CREATED
        previous = (
            FollowUp.objects.filter(isolation=isolation, date__lt=clean["date"])
            .order_by("-date")
            .values_list("symptoms", flat=True)
            .first()
        )
        reasons = _deterioration(clean, set(previous or []))
        if reasons:
            results[index].urgent += 1
            alert_raise(
                actor=actor,
                kind=Alert.Kind.DETERIORATION,
                person=isolation.person,
                isolation=isolation,
                day=clean["date"],
                message=f"deterioration on {clean['date'].isoformat()}: {'; '.join(reasons)}",
            )
    # A follow-up that arrives late closes the day's missed-follow-up alert.
    for _index, _fid, isolation, clean in accepted:
        Alert.objects.filter(
            isolation=isolation, kind=Alert.Kind.MISSED_FOLLOW_UP, day=clean["date"], resolved_at=None
        ).update(resolved_at=timezone.now(), resolved_by=actor)
    audit_record_many(
        actor=actor,
        action="create",
        object_type="cases.followup",
        rows=[(str(r.pk), r.org_path) for r in rows],
    )
