"""Registry API: persons and households. Thin: parse, call a selector or a service, shape the answer.

Access, in this order:
- the role: a role without personal-data access (analyst) gets 403 on every endpoint here, whatever the record
  (the router is a personal_data_router: the gate is declared once, for every endpoint);
- the jurisdiction: a record outside the user's subtree is 404, exactly like one that does not exist;
- writing: the services refuse read-only roles and org units outside the subtree with 403.
"""

import uuid

from django.db import IntegrityError
from ninja import Query, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from mahalle.accounts.gates import personal_data_router
from mahalle.core.errors import Conflict, NotFound, ValidationFailed, field_error
from mahalle.core.persian import normalize_text
from mahalle.core.schemas import Page
from mahalle.geo.models import OrgUnit

from . import selectors, services
from .rules import household_phone, person_clean
from .schemas import (
    HouseholdDetailOut,
    HouseholdIn,
    HouseholdOut,
    PersonDetailOut,
    PersonIn,
    PersonOut,
    PersonPatch,
    ShortText,
    Text,
)

router = personal_data_router(tags=["registry"])

SEARCH_LIMIT = 200


class PersonFilters(Schema):
    national_code: ShortText = ""
    mobile: ShortText = ""
    q: Text = ""


def _org_unit(code: str) -> OrgUnit:
    unit = OrgUnit.objects.filter(code=code.strip()).first()
    if unit is None:
        raise ValidationFailed(
            "the request is not valid", [field_error("org_unit", f"unknown org unit '{code}'")]
        )
    return unit


def _same_person(person, *, org_unit: OrgUnit, household_id, data: dict) -> bool:
    clean, errors = person_clean(data)
    if errors:
        raise ValidationFailed("the person could not be saved", errors)
    if person.org_unit_id != org_unit.pk or person.household_id != household_id:
        return False
    return all(getattr(person, key) == value for key, value in clean.items())


@router.get("/persons", response=list[PersonOut], summary="List or search persons in your jurisdiction")
@paginate(Page)
def person_list(request, filters: Query[PersonFilters]):
    """Without filters: every person in your jurisdiction, by name. With `national_code`, `mobile` or `q`
    (a name, a national code or a mobile in any digits): the matches, at most 200."""
    user = request.user
    if filters.national_code or filters.mobile or filters.q:
        return selectors.person_search(
            user=user,
            query=filters.q,
            national_code=filters.national_code,
            mobile=filters.mobile,
            limit=SEARCH_LIMIT,
        )
    return (
        selectors.persons_visible(user=user)
        .select_related("org_unit")
        .order_by("last_name", "first_name", "id")
    )


@router.get("/persons/{person_id}", response=PersonDetailOut, summary="One person (the read is audited)")
def person_get(request, person_id: uuid.UUID):
    return selectors.person_detail(user=request.user, person_id=person_id)


def _sent_again(existing, same: bool, *, what: str, key: str, used_for: str):
    """A create sent again with a client key already stored: the stored record (200) when the request says the
    same, else Conflict (409)."""
    if same:
        return Status(200, existing)
    raise Conflict(
        f"a different {what} was already registered with this {key}",
        [field_error(key, f"already used for {used_for}")],
    )


@router.post("/persons", response={200: PersonDetailOut, 201: PersonDetailOut}, summary="Register a person")
def person_post(request, payload: PersonIn):
    user = request.user
    unit = _org_unit(payload.org_unit)
    household = None
    if payload.household_id is not None:
        try:
            household = selectors.access_household(user, payload.household_id)
        except NotFound as exc:
            raise ValidationFailed(
                "the request is not valid",
                [field_error("household_id", "no such household in your jurisdiction")],
            ) from exc
    data = payload.dict(exclude={"id", "org_unit", "household_id"})
    if payload.id is not None:
        existing = (
            selectors.persons_visible(user=user).select_related("org_unit").filter(pk=payload.id).first()
        )
        if existing is not None:
            same = _same_person(existing, org_unit=unit, household_id=payload.household_id, data=data)
            return _sent_again(existing, same, what="person", key="id", used_for="another record")
    try:
        person = services.person_create(
            actor=user, org_unit=unit, data=data, household=household, person_id=payload.id
        )
    except IntegrityError as exc:  # a concurrent request took the id or the national code first
        raise Conflict(
            "the person conflicts with a record registered meanwhile",
            [
                field_error("id", "already used")
                if payload.id
                else field_error("national_code", "already used")
            ],
        ) from exc
    return Status(201, person)


@router.patch("/persons/{person_id}", response=PersonDetailOut, summary="Change some fields of a person")
def person_patch(request, person_id: uuid.UUID, payload: PersonPatch):
    user = request.user
    person = selectors.access_person(user, person_id)
    data = payload.dict(exclude_unset=True)
    try:
        person = services.person_update(actor=user, person=person, data=data)
    except IntegrityError as exc:
        raise Conflict(
            "the person conflicts with a record changed meanwhile",
            [field_error("national_code", "already used")],
        ) from exc
    return selectors.persons_visible(user=user).select_related("org_unit", "household").get(pk=person.pk)


@router.get("/households", response=list[HouseholdOut], summary="Households in your jurisdiction")
@paginate(Page)
def household_list(request):
    return (
        selectors.households_visible(user=request.user).select_related("org_unit").order_by("org_path", "id")
    )


@router.get(
    "/households/{household_id}", response=HouseholdDetailOut, summary="One household with its members"
)
def household_get(request, household_id: uuid.UUID):
    household = selectors.household_detail(user=request.user, household_id=household_id)
    household.member_list = list(selectors.household_members(household=household).select_related("org_unit"))
    return household


def _same_household(household, *, unit: OrgUnit, payload: HouseholdIn) -> bool:
    return (
        household.org_unit_id == unit.pk
        and household.address == normalize_text(payload.address)[:500]
        and household.phone == (household_phone(payload.phone)[0] if payload.phone else "")
        and household.female_headed == payload.female_headed
        and household.lost_income == payload.lost_income
    )


@router.post("/households", response={200: HouseholdOut, 201: HouseholdOut}, summary="Register a household")
def household_post(request, payload: HouseholdIn):
    user = request.user
    unit = _org_unit(payload.org_unit)
    if payload.external_id:
        existing = (
            selectors.households_visible(user=user)
            .select_related("org_unit")
            .filter(external_id=payload.external_id)
            .first()
        )
        if existing is not None:
            same = _same_household(existing, unit=unit, payload=payload)
            return _sent_again(
                existing, same, what="household", key="external_id", used_for="another household"
            )
    try:
        household = services.household_create(
            actor=user,
            org_unit=unit,
            address=payload.address,
            phone=payload.phone,
            female_headed=payload.female_headed,
            lost_income=payload.lost_income,
            external_id=payload.external_id,
        )
    except IntegrityError as exc:
        raise Conflict(
            "the household conflicts with one registered meanwhile",
            [field_error("external_id", "already used")],
        ) from exc
    return Status(201, household)
