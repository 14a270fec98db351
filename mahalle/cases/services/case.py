"""Cases: classification from the lab results (cases.rules.classify), a supervisor's manual classification,
hospitalisation and outcome. What a case triggers in the other apps is published as events (cases.events)."""

import datetime as dt

from mahalle.accounts.capabilities import Can, require
from mahalle.accounts.selectors import personal_record_visible
from mahalle.audit.services import audit_record
from mahalle.core.errors import Conflict, PermissionDenied, ValidationFailed, field_error
from mahalle.core.persian import normalize_text
from mahalle.core.service import service
from mahalle.registry.models import Person

from .. import events, rules
from ..models import Case, CaseChange, Classification, Isolation, Outcome, TestOrder, TestResult
from ._common import _not_future
from .isolation import _isolation_release


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
        events.positive_result_recorded.send(
            sender=TestOrder, person=person, on=order.result_date, order=order
        )
    if case is None:
        if order.result != TestResult.POSITIVE:
            return None
        return _case_open(
            actor=actor,
            person=person,
            screening=screening,
            epi_link=epi_link,
            classification=classification,
            reason=reason,
        )
    current = case.classification
    moves_up = rules.RANK[classification] > rules.RANK[current]
    discards = current == Classification.SUSPECTED and classification == Classification.DISCARDED
    if classification != current and (moves_up or discards or allow_downgrade):
        _case_change(actor=actor, case=case, field="classification", new=classification, reason=reason)
        if classification == Classification.CONFIRMED:
            events.case_confirmed.send(sender=Case, actor=actor, case=case)
    return case


def _case_open(*, actor, person, screening, epi_link: bool, classification: str, reason: str) -> Case:
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
    events.cases_changed.send(sender=Case, org_unit_ids=[case.org_unit_id])
    events.case_created.send(sender=Case, actor=actor, case=case)
    return case


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
        events.cases_changed.send(sender=Case, org_unit_ids=[case.org_unit_id])
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


def _case_for_update(actor, case: Case, message: str) -> Case:
    require(actor, Can.MANAGE_CASES, message)
    if not personal_record_visible(user=actor, org_path=case.org_path):
        raise PermissionDenied("this case is outside your jurisdiction")
    return Case.objects.select_for_update(of=("self",)).select_related("person").get(pk=case.pk)


@service
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
        events.case_confirmed.send(sender=Case, actor=actor, case=case)
    return case


@service
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


@service
def case_outcome_record(*, actor, case: Case, outcome: str, on: dt.date, reason: str = "") -> Case:
    """Recovered or died, with the date. A death releases the person's active isolation and is published
    (events.case_died: the needs side records a household head's death as a lost breadwinner, which the aid
    side's 12-month support reads; see also `selectors.household_head_deaths`)."""
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
        events.case_died.send(sender=Case, actor=actor, case=case)
        isolation = Isolation.objects.filter(person_id=case.person_id, released_on=None).first()
        if isolation is not None:
            _isolation_release(
                actor=actor, isolation=isolation, on=max(on, isolation.start_date), reason="died"
            )
    return case
