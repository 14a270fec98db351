"""What a new or confirmed case sets off in tracing (the cases side's event seam calls `case_created`), and the
catch-up for cases created without it."""

from mahalle.cases.models import Case, Classification
from mahalle.core.service import service

from ..models import Contact, EventAttendance
from .chains import contacts_case_created
from .contacts import _household_list


@service(item_by_item=True)
def contacts_link_new_cases(*, actor=None) -> dict:
    """Catch-up for cases created without the hook (lab imports, older data): every open case whose person is
    an unlinked contact or event attendee goes through `contacts_case_created`. Idempotent. Returns counts.
    It commits item by item: each case in its own transaction, with its audit events."""
    person_ids = set(
        Contact.objects.filter(became_case=None)
        .exclude(status=Contact.Status.REMOVED)
        .values_list("person_id", flat=True)
    ) | set(EventAttendance.objects.filter(case=None).values_list("person_id", flat=True))
    cases = (
        Case.objects.filter(person_id__in=person_ids, outcome="")
        .exclude(classification=Classification.DISCARDED)
        .order_by("created_at", "pk")
    )
    linked = seen = 0
    for case in cases.iterator(chunk_size=500):
        seen += 1
        linked += contacts_case_created(actor=actor, case=case)
    return {"cases": seen, "contacts_linked": linked}


@service
def case_created(*, actor, case: Case) -> dict:
    """THE hook for the cases side: called (inside the same transaction) when a case is created, and again when
    a case is confirmed. A system action: no permission check on the actor (who may be a lab's account or None;
    it is recorded in the audit events). It links the person's contact records and event attendances to the case
    (the chain) and lists the case's household members as contacts to confirm. Idempotent."""
    if case.classification == Classification.DISCARDED:
        return {"linked": 0, "listed": 0}
    linked = contacts_case_created(actor=actor, case=case)
    listed = _household_list(actor=actor, case=case, assign=False)
    return {"linked": linked, "listed": len(listed)}
