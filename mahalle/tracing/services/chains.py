"""Who infected whom: transmission links between cases, a contact who became a case, and the generations of a
chain. A link joins the two cases' clusters (clusters.py)."""

from django.db import IntegrityError, transaction
from django.db.models import F

from mahalle.accounts.capabilities import Can, require
from mahalle.accounts.selectors import personal_record_visible
from mahalle.audit.services import audit_record, audit_record_many
from mahalle.cases.models import Case, Classification
from mahalle.core.errors import Conflict, PermissionDenied, ValidationFailed, field_error
from mahalle.core.service import service

from ..models import ChainCase, Contact, EventAttendance, TransmissionLink
from .clusters import CHUNK, _chain_case


def _would_loop(infector_id, infectee_id) -> bool:
    """True when infectee is infector's ancestor (or infector itself): walking up from the infector."""
    seen = set()
    current = infector_id
    while current is not None and current not in seen:
        if current == infectee_id:
            return True
        seen.add(current)
        current = (
            TransmissionLink.objects.filter(infectee_id=current).values_list("infector_id", flat=True).first()
        )
    return False


def _link_create(*, actor, infector: Case, infectee: Case, source: str) -> TransmissionLink:
    cluster = _chain_case(infector)
    cluster = _chain_case(infectee, join={cluster})
    link = TransmissionLink.objects.create(
        infector=infector,
        infectee=infectee,
        source=source,
        cluster_id=cluster,
        org_unit_id=infectee.org_unit_id,
        org_path=infectee.org_path,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(actor=actor, action="create", obj=link, details={"infector": str(infector.pk)})
    _generations_shift(infector=infector, infectee=infectee)
    return link


def _generations_shift(*, infector: Case, infectee: Case) -> None:
    """The infectee (and everyone it infected) now sits one generation below the infector."""
    base = ChainCase.objects.filter(case_id=infector.pk).values_list("generation", flat=True).get()
    old = ChainCase.objects.filter(case_id=infectee.pk).values_list("generation", flat=True).get()
    delta = base + 1 - old
    if delta == 0:
        return
    subtree, frontier = [infectee.pk], [infectee.pk]
    while frontier:  # no loops (refused on the way in), so this ends
        frontier = list(
            TransmissionLink.objects.filter(infector_id__in=frontier).values_list("infectee_id", flat=True)
        )
        subtree += frontier
    for start in range(0, len(subtree), CHUNK):
        ChainCase.objects.filter(case_id__in=subtree[start : start + CHUNK]).update(
            generation=F("generation") + delta
        )


def _contact_became_case(*, actor, contact: Contact, case: Case) -> None:
    contact.became_case = case
    contact.save(update_fields=["became_case", "modified_at"])
    audit_record(actor=actor, action="update", obj=contact, details={"became_case": str(case.pk)})
    _chain_case(case, join={contact.cluster_id})
    if (
        not TransmissionLink.objects.filter(infectee=case).exists()
        and contact.case_id != case.pk
        and not _would_loop(contact.case_id, case.pk)
    ):
        _link_create(
            actor=actor, infector=contact.case, infectee=case, source=TransmissionLink.Source.CONTACT
        )


@service
def contacts_case_created(*, actor, case: Case) -> int:
    """The hook for the cases side: a person became a case. Their contact records keep the link (became_case:
    the chain), the case joins their cluster, the index case of their latest exposure becomes the infector
    (unless an infector is recorded already or it would make a loop), event attendances point at the case.
    Idempotent; returns how many contacts were linked."""
    if case.classification == Classification.DISCARDED:
        return 0
    contacts = list(
        Contact.objects.filter(person_id=case.person_id, became_case=None)
        .exclude(status=Contact.Status.REMOVED)
        .exclude(case=case)
        .select_related("case")
        .order_by("-last_exposure", "id")
    )
    for contact in contacts:
        _contact_became_case(actor=actor, contact=contact, case=case)
    attendances = EventAttendance.objects.filter(person_id=case.person_id, case=None)
    linked = list(attendances.values_list("pk", "org_path", "cluster_id"))
    if linked:
        _chain_case(case, join={cluster_id for _, _, cluster_id in linked})
        attendances.update(case=case)
        audit_record_many(
            actor=actor,
            action="update",
            object_type="tracing.eventattendance",
            rows=[(str(pk), org_path) for pk, org_path, _ in linked],
            details={"case": str(case.pk)},
        )
    return len(contacts)


@service
def transmission_link_create(*, actor, infector: Case, infectee: Case) -> TransmissionLink:
    """An investigator records who infected whom. Refused: a case infecting itself, a second infector for the
    same case, and a loop (the infectee is already an ancestor of the infector)."""
    require(actor, Can.ASSIGN_TRACING, "your role may not record who infected whom")
    for case in (infector, infectee):
        if not personal_record_visible(user=actor, org_path=case.org_path):
            raise PermissionDenied("this case is outside your jurisdiction")
    if infector.pk == infectee.pk:
        raise ValidationFailed(
            "the link could not be recorded", [field_error("infectee_id", "a case cannot infect itself")]
        )
    existing = TransmissionLink.objects.filter(infectee=infectee).first()
    if existing is not None:
        if existing.infector_id == infector.pk:
            return existing
        raise Conflict(
            "this case already has an infector",
            [field_error("infectee_id", "already has an infector recorded; a case has one")],
        )
    if _would_loop(infector.pk, infectee.pk):
        raise ValidationFailed(
            "the link would make a loop in who infected whom",
            [field_error("infectee_id", "is already an ancestor of the infector in the chain: a loop")],
        )
    try:
        with transaction.atomic():
            return _link_create(
                actor=actor, infector=infector, infectee=infectee, source=TransmissionLink.Source.MANUAL
            )
    except IntegrityError as exc:
        raise Conflict(
            "this case already has an infector", [field_error("infectee_id", "already has an infector")]
        ) from exc
