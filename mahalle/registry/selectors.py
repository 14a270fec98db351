"""Every read of the registry goes through here and is scoped to the acting user's jurisdiction."""

import contextlib

from django.db.models import Q

from mahalle.accounts.capabilities import Can, may
from mahalle.accounts.selectors import org_unit_in_jurisdiction, personal_data_paths, user_jurisdiction_units
from mahalle.audit.services import audit_record
from mahalle.core.errors import NotFound, first_or_not_found
from mahalle.core.identifiers import InvalidIdentifier, normalize_mobile, normalize_national_code
from mahalle.core.persian import normalize_digits, search_key

from .models import Household, ImportJob, Person


def persons_visible(*, user):
    return Person.objects.within_any(personal_data_paths(user=user))


def households_visible(*, user):
    return Household.objects.within_any(personal_data_paths(user=user))


def access_person(user, person_id, *, for_update: bool = False) -> Person:
    """The person, if inside the user's personal-data jurisdiction; else NotFound ("person not found")."""
    return first_or_not_found(
        persons_visible(user=user).select_related("org_unit"), person_id, "person", for_update=for_update
    )


def access_household(user, household_id, *, for_update: bool = False) -> Household:
    """The household, if inside the user's personal-data jurisdiction; else NotFound ("household not found")."""
    return first_or_not_found(
        households_visible(user=user).select_related("org_unit"),
        household_id,
        "household",
        for_update=for_update,
    )


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
    person = first_or_not_found(
        persons_visible(user=user).select_related("household", "org_unit", "household__head"),
        person_id,
        "person",
    )
    audit_record(actor=user, action="read", obj=person)
    return person


def household_detail(*, user, household_id) -> Household:
    household = first_or_not_found(
        households_visible(user=user).select_related("org_unit", "head"), household_id, "household"
    )
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


# --- import jobs ----------------------------------------------------------------------------------------------


def may_import(*, actor, org_unit) -> bool:
    """Import roles, into a unit inside the actor's jurisdiction. No actor means the server's operator."""
    if actor is None:
        return True
    return may(actor, Can.IMPORT) and org_unit_in_jurisdiction(user=actor, unit=org_unit)


def import_jobs_visible(*, user):
    """Jobs whose org unit lies in the user's personal-data jurisdiction (their row errors carry personal data)."""
    paths = personal_data_paths(user=user)
    if not paths:
        return ImportJob.objects.none()
    query = Q()
    for path in paths:
        query |= Q(org_unit__path__prefix=path)
    return ImportJob.objects.filter(query).select_related("org_unit")


def access_import_job(user, job_id, *, for_update: bool = False) -> ImportJob:
    """The import job, if visible to the user (import_jobs_visible); else NotFound ("no such import job")."""
    jobs = import_jobs_visible(user=user)
    job = (jobs.select_for_update() if for_update else jobs).filter(pk=job_id).first()
    if job is None:
        raise NotFound("no such import job")
    return job
