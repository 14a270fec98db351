"""Every read of the registry goes through here and is scoped to the acting user's jurisdiction."""

import contextlib

from django.db.models import Q

from mahalle.accounts.selectors import personal_data_paths, user_jurisdiction_units
from mahalle.audit.services import audit_record
from mahalle.core.errors import NotFound
from mahalle.core.identifiers import InvalidIdentifier, normalize_mobile, normalize_national_code
from mahalle.core.persian import normalize_digits, search_key

from .models import Household, Person


def persons_visible(*, user):
    return Person.objects.within_any(personal_data_paths(user=user))


def households_visible(*, user):
    return Household.objects.within_any(personal_data_paths(user=user))


def person_search(*, user, query: str = "", national_code: str = "", mobile: str = "", limit: int = 50):
    """Search by national code, mobile or name, tolerant to ی/ي, spacing, ZWNJ and digit scripts.

    A free-text `query` that is all digits is tried as a national code (10 digits) or mobile; otherwise it is
    a name: the key of "first last" as a prefix, or a last name's key as a prefix.
    """
    persons = persons_visible(user=user).select_related("household", "org_unit")
    if national_code:
        try:
            return persons.filter(national_code=normalize_national_code(national_code))[:limit]
        except InvalidIdentifier:
            return persons.none()
    if mobile:
        try:
            return persons.filter(mobile=normalize_mobile(mobile))[:limit]
        except InvalidIdentifier:
            return persons.none()
    query = (query or "").strip()
    if not query:
        return persons.none()
    digits = normalize_digits(query)
    if digits and len(digits) >= len(query.replace(" ", "").replace("-", "")) * 0.8:
        conditions = Q()
        with contextlib.suppress(InvalidIdentifier):
            conditions |= Q(national_code=normalize_national_code(digits))
        with contextlib.suppress(InvalidIdentifier):
            conditions |= Q(mobile=normalize_mobile(digits))
        return persons.filter(conditions)[:limit] if conditions else persons.none()
    key = search_key(query)
    if not key:  # only separators (ZWNJ, dashes): an empty prefix would match everyone
        return persons.none()
    return persons.filter(Q(name_key__prefix=key) | Q(last_name_key__prefix=key)).order_by(
        "last_name", "first_name", "id"
    )[:limit]


def person_detail(*, user, person_id) -> Person:
    """One person, if inside the user's jurisdiction (else NotFound, never 'forbidden'); the read is audited."""
    person = (
        persons_visible(user=user)
        .select_related("household", "org_unit", "household__head")
        .filter(pk=person_id)
        .first()
    )
    if person is None:
        raise NotFound("person not found")
    audit_record(actor=user, action="read", obj=person)
    return person


def household_detail(*, user, household_id) -> Household:
    household = (
        households_visible(user=user).select_related("org_unit", "head").filter(pk=household_id).first()
    )
    if household is None:
        raise NotFound("household not found")
    audit_record(actor=user, action="read", obj=household)
    return household


def household_members(*, household: Household):
    return household.members.order_by("birth_date", "id")


def registry_counts(*, user) -> dict[str, int]:
    """How many households and persons lie in the user's jurisdiction. Aggregates only, so the analyst
    (who may not read personal records) gets them too."""
    paths = [unit.path for unit in user_jurisdiction_units(user=user)]
    return {
        "households": Household.objects.within_any(paths).count(),
        "persons": Person.objects.within_any(paths).count(),
    }
