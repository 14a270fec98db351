"""Deliveries at the door: one-time codes sent to the household, and the delivery itself with its proof.
Can.DELIVER (every role that writes personal data, field volunteers included), for entitlements in the actor's
subtree; confirming a delivery as the supervisor takes Can.MANAGE_STOCK."""

import datetime as dt
import hashlib
import secrets

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from mahalle.accounts.capabilities import Can, may, require
from mahalle.accounts.selectors import personal_record_visible
from mahalle.audit.services import audit_record
from mahalle.core.errors import Conflict, InsufficientStock, NotFound, ValidationFailed, field_error
from mahalle.core.service import service

from .. import sms
from ..models import AidKind, Cycle, Decision, Delivery, DeliveryCode, Entitlement, Proof, Warehouse
from ._ledger import _issue

CODE_TTL = dt.timedelta(minutes=15)
CODE_MAX_ATTEMPTS = 5


def _hash_code(entitlement_id: int, code: str) -> str:
    return hashlib.sha256(f"{entitlement_id}:{code}".encode()).hexdigest()


def _require_deliverable(actor, entitlement: Entitlement) -> None:
    require(actor, Can.DELIVER, "your role may not record deliveries")
    if not personal_record_visible(user=actor, org_path=entitlement.org_path):
        raise NotFound("entitlement not found")
    if entitlement.cycle.status != Cycle.Status.APPROVED:
        raise Conflict("the cycle of this entitlement is not approved yet")
    if entitlement.decision == Decision.DROP:
        raise Conflict("this entitlement was dropped by the coordinator")
    if entitlement.cycle.program.kind not in (AidKind.IN_KIND, AidKind.SERVICE):
        raise Conflict(
            "this program is not delivered at the door (cash is paid by the agency, loans are lent)"
        )


@service
def delivery_code_send(*, actor, entitlement: Entitlement) -> DeliveryCode:
    """Send a fresh one-time code to the household's registered mobile (as copied at approval)."""
    _require_deliverable(actor, entitlement)
    if not entitlement.phone:
        raise ValidationFailed(
            "no mobile is registered for this household",
            [field_error("proof", "use a signature or supervisor")],
        )
    code = f"{secrets.randbelow(10**6):06d}"
    sent = DeliveryCode.objects.create(
        entitlement=entitlement,
        code_hash=_hash_code(entitlement.pk, code),
        sent_to=entitlement.phone,
        expires_at=timezone.now() + CODE_TTL,
    )
    audit_record(actor=actor, action="send_code", obj=entitlement)
    text = f"Mahalle: {entitlement.cycle.program.name} — code {code}"
    transaction.on_commit(lambda: sms.send_sms(entitlement.phone, text))
    return sent


def _check_code(actor, entitlement: Entitlement, code: str) -> int:
    """The id of the live code that matches, or ValidationFailed. A wrong try is counted, and audited, in its own
    transaction (it survives the refusal); after CODE_MAX_ATTEMPTS the code is dead: send a new one."""
    bad = ValidationFailed("the code is not valid", [field_error("code", "wrong or expired code")])
    with transaction.atomic():
        sent = (
            DeliveryCode.objects.select_for_update()
            .filter(entitlement=entitlement, used_at=None, expires_at__gt=timezone.now())
            .order_by("-created_at")
            .first()
        )
        if sent is None or sent.attempts >= CODE_MAX_ATTEMPTS:
            raise bad
        matches = secrets.compare_digest(sent.code_hash, _hash_code(entitlement.pk, (code or "").strip()))
        if not matches:
            DeliveryCode.objects.filter(pk=sent.pk).update(attempts=F("attempts") + 1)
            audit_record(
                actor=actor, action="code_refused", obj=entitlement, details={"attempt": sent.attempts + 1}
            )
    if not matches:
        raise bad
    return sent.pk


def _delivery_errors(actor, proof: str, code: str, proof_file) -> list[dict]:
    if proof not in Proof.values:
        return [field_error("proof", f"must be one of {', '.join(Proof.values)}")]
    if proof == Proof.SIGNATURE and not proof_file:
        return [field_error("proof_file", "attach the signature or photo")]
    if proof == Proof.SUPERVISOR and not may(actor, Can.MANAGE_STOCK):
        return [field_error("proof", "only a supervisor can confirm a delivery")]
    if proof == Proof.CODE and not code:
        return [field_error("code", "enter the code the household received")]
    return []


@transaction.atomic
def _delivery_write(
    *, actor, entitlement: Entitlement, delivery_id, proof: str, code_id, proof_file
) -> Delivery:
    """The delivery, its stock issue and its audit event: one transaction, the entitlement row locked first."""
    program = entitlement.cycle.program
    locked = Entitlement.objects.select_for_update().get(pk=entitlement.pk)
    if Delivery.objects.filter(entitlement=locked).exists():
        raise Conflict("this entitlement has already been delivered")
    if code_id is not None and not DeliveryCode.objects.filter(pk=code_id, used_at=None).update(
        used_at=timezone.now()
    ):
        raise ValidationFailed("the code is not valid", [field_error("code", "this code was used")])
    warehouse = None
    if program.kind == AidKind.IN_KIND:
        warehouse = Warehouse.objects.filter(org_unit_id=locked.org_unit_id).order_by("pk").first()
        if warehouse is None:
            raise InsufficientStock(
                "the post has no warehouse to deliver from",
                [field_error("warehouse", "none at the post")],
            )
        _issue(
            warehouse=warehouse,
            item=program.item,
            quantity=locked.quantity,
            actor=actor,
            reference=str(delivery_id),
        )
    delivery = Delivery.objects.create(
        id=delivery_id,
        entitlement=locked,
        org_unit_id=locked.org_unit_id,
        org_path=locked.org_path,
        warehouse=warehouse,
        quantity=locked.quantity,
        proof=proof,
        proof_file=proof_file or "",
        by=actor,
        created_by=actor,
    )
    audit_record(actor=actor, action="deliver", obj=delivery, details={"proof": proof})
    return delivery


@service(item_by_item=True)
def delivery_record(
    *, actor, entitlement: Entitlement, delivery_id, proof: str, code: str = "", proof_file=None
) -> tuple[Delivery, bool]:
    """Deliver an entitlement once, from the post's stock, with proof. Returns (delivery, created).

    The same delivery id again is a no-op (the phone re-sent); another delivery of the same entitlement is a 409,
    even at the same moment: the entitlement row is locked first, and the unique constraint backs it up.
    It commits item by item: a wrong code is counted (and audited) in its own transaction, so that the count
    survives the refusal; the delivery, its stock issue and its audit event are one transaction."""
    _require_deliverable(actor, entitlement)
    existing = Delivery.objects.filter(pk=delivery_id).first()
    if existing is not None:
        if existing.entitlement_id != entitlement.pk:
            raise Conflict("this delivery id was used for another entitlement")
        return existing, False
    if Delivery.objects.filter(entitlement_id=entitlement.pk).exists():
        raise Conflict("this entitlement has already been delivered")
    errors = _delivery_errors(actor, proof, code, proof_file)
    if errors:
        raise ValidationFailed("the delivery is not valid", errors)
    code_id = _check_code(actor, entitlement, code) if proof == Proof.CODE else None
    try:
        delivery = _delivery_write(
            actor=actor,
            entitlement=entitlement,
            delivery_id=delivery_id,
            proof=proof,
            code_id=code_id,
            proof_file=proof_file,
        )
    except IntegrityError:
        existing = Delivery.objects.filter(pk=delivery_id).first()
        if existing is not None and existing.entitlement_id == entitlement.pk:
            return existing, False
        raise Conflict("this entitlement has already been delivered") from None
    return delivery, True
