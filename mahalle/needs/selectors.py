"""Every read of the needs registry, scoped to the acting user's jurisdiction (accounts.personal_data_paths).
Out of scope is NotFound, never "forbidden"."""

from collections import defaultdict

from django.db.models import Q

from mahalle.accounts.models import Role
from mahalle.accounts.selectors import personal_data_paths
from mahalle.audit.services import audit_record
from mahalle.core.errors import NotFound
from mahalle.core.identifiers import national_code_checksum_ok
from mahalle.registry.models import Household, Person

from .models import (
    Agency,
    AgencyList,
    HouseholdNeed,
    HouseholdVulnerability,
    LinkChange,
    LinkStatus,
    ReviewPair,
    SourceRecord,
    Support,
)


def _path_q(paths, field: str) -> Q:
    query = Q()
    for path in paths:
        query |= Q(**{f"{field}__prefix": path})
    return query


def user_agency_ids(*, user) -> list[int]:
    return list(user.agency_memberships.values_list("agency_id", flat=True))


def agencies_for_upload(*, user):
    """The agencies the user may upload for: its own (partner staff), or every agency (coordinators)."""
    from .lists import ANY_AGENCY_ROLES

    if user.has_role(ANY_AGENCY_ROLES):
        return Agency.objects.all()
    return Agency.objects.filter(pk__in=user_agency_ids(user=user))


def agency_lists_visible(*, user):
    """Lists whose scope lies in the user's jurisdiction; partner staff see their own agencies' lists only."""
    paths = personal_data_paths(user=user)
    if not paths:
        return AgencyList.objects.none()
    lists = AgencyList.objects.filter(_path_q(paths, "org_unit__path")).select_related("agency", "org_unit")
    if user.role == Role.PARTNER_STAFF:
        lists = lists.filter(agency_id__in=user_agency_ids(user=user))
    return lists


def agency_list_detail(*, user, list_id) -> AgencyList:
    found = agency_lists_visible(user=user).filter(pk=list_id).first()
    if found is None:
        raise NotFound("list not found")
    return found


def source_records_visible(*, user):
    records = SourceRecord.objects.within_any(personal_data_paths(user=user))
    if user.role == Role.PARTNER_STAFF:
        records = records.filter(agency_id__in=user_agency_ids(user=user))
    return records


def review_pairs_visible(*, user):
    """Pairs whose source record and registry person both lie in the user's jurisdiction."""
    paths = personal_data_paths(user=user)
    if not paths:
        return ReviewPair.objects.none()
    pairs = ReviewPair.objects.filter(_path_q(paths, "org_path"), _path_q(paths, "person__org_path"))
    if user.role == Role.PARTNER_STAFF:  # an agency's staff see their own agency's records only
        pairs = pairs.filter(source_record__agency_id__in=user_agency_ids(user=user))
    return pairs


def review_queue(*, user):
    """Open pairs of records still waiting for review, most probable first."""
    return (
        review_pairs_visible(user=user)
        .filter(decision="", source_record__link_status=LinkStatus.REVIEW)
        .select_related("source_record", "source_record__agency", "person")
        .order_by("-match_probability", "id")
    )


def review_pair_detail(*, user, pair_id) -> ReviewPair:
    pair = (
        review_pairs_visible(user=user)
        .select_related("source_record", "source_record__agency", "person", "person__household", "decided_by")
        .filter(pk=pair_id)
        .first()
    )
    if pair is None:
        raise NotFound("review pair not found")
    audit_record(actor=user, action="read", obj=pair.source_record)
    return pair


# --- golden records ---------------------------------------------------------------------------------------

GOLDEN_FIELDS = ("national_code", "first_name", "last_name", "father_name", "birth_date", "sex", "mobile")


def _valid(field: str, value) -> bool:
    if value in (None, ""):
        return False
    if field == "national_code":
        return len(str(value)) == 10 and national_code_checksum_ok(str(value))
    if field == "mobile":
        return len(str(value)) == 11 and str(value).startswith("09")
    return True


def golden_value(field: str, candidates: list[dict]) -> dict:
    """The best of `candidates` ({value, source, trusted, at}) for `field`: a valid value beats an invalid one;
    then a trusted source (the registry itself, or a record a reviewer linked) beats an automatic link; then
    the value most sources give; then the most recent. Returns {value, source, agree, candidates}."""
    present = [c for c in candidates if c["value"] not in (None, "")]
    if not present:
        return {"value": None, "source": None, "agree": 0, "candidates": candidates}
    counts: dict = defaultdict(int)
    for c in present:
        counts[c["value"]] += 1

    def rank(c):
        return (_valid(field, c["value"]), c["trusted"], counts[c["value"]], c["at"])

    best = max(present, key=rank)
    return {
        "value": best["value"],
        "source": best["source"],
        "agree": counts[best["value"]],
        "candidates": candidates,
    }


def _person_candidates(person: Person, records: list[SourceRecord]) -> dict:
    result = {}
    for field in GOLDEN_FIELDS:
        candidates = [
            {
                "value": getattr(person, field) or "",
                "source": "registry",
                "trusted": True,
                "at": person.modified_at.isoformat(),
            }
        ]
        for r in records:
            candidates.append(
                {
                    "value": getattr(r, field) or "",
                    "source": f"{r.agency.code}:{r.record_id}",
                    "trusted": r.link_status == LinkStatus.REVIEWED,
                    "at": r.modified_at.isoformat(),
                }
            )
        for c in candidates:
            if hasattr(c["value"], "isoformat"):
                c["value"] = c["value"].isoformat()
        result[field] = golden_value(field, candidates)
    return result


def golden_person(*, user, person_id) -> dict:
    """The golden record of a registry person: each field's best value and its source, every source record,
    and the history of links (merges/splits)."""
    person = (
        Person.objects.within_any(personal_data_paths(user=user))
        .select_related("household", "org_unit")
        .filter(pk=person_id)
        .first()
    )
    if person is None:
        raise NotFound("person not found")
    records = person.source_records.select_related("agency", "agency_list").order_by("created_at")
    if user.role == Role.PARTNER_STAFF:  # other agencies' rows are theirs: partner staff see their own only
        records = records.filter(agency_id__in=user_agency_ids(user=user))
    records = list(records)
    audit_record(actor=user, action="read", obj=person)
    return {
        "person": person,
        "fields": _person_candidates(person, records),
        "records": records,
        "history": list(
            LinkChange.objects.filter(Q(from_person=person) | Q(to_person=person))
            .select_related("source_record", "source_record__agency", "by")
            .order_by("at", "id")
        ),
    }


def golden_household(*, user, household_id) -> dict:
    household = (
        Household.objects.within_any(personal_data_paths(user=user))
        .select_related("org_unit")
        .filter(pk=household_id)
        .first()
    )
    if household is None:
        raise NotFound("household not found")
    members = list(household.members.order_by("birth_date", "id"))
    records = (
        SourceRecord.objects.filter(person__household=household)
        .select_related("agency")
        .order_by("created_at")
    )
    if user.role == Role.PARTNER_STAFF:
        records = records.filter(agency_id__in=user_agency_ids(user=user))
    records = list(records)
    fields = {}
    for field, registry_value, record_field in (
        ("address", household.address, "address"),
        ("phone", household.phone, "mobile"),
    ):
        candidates = [
            {
                "value": registry_value,
                "source": "registry",
                "trusted": True,
                "at": household.modified_at.isoformat(),
            }
        ]
        candidates += [
            {
                "value": getattr(r, record_field),
                "source": f"{r.agency.code}:{r.record_id}",
                "trusted": r.link_status == LinkStatus.REVIEWED,
                "at": r.modified_at.isoformat(),
            }
            for r in records
        ]
        fields[field] = golden_value(field, candidates)
    return {"household": household, "members": members, "fields": fields, "records": records}


# --- household needs panel --------------------------------------------------------------------------------


def household_needs(*, user, household_id) -> dict:
    """Needs, supports and the vulnerability score of one household in the user's jurisdiction."""
    household = Household.objects.within_any(personal_data_paths(user=user)).filter(pk=household_id).first()
    if household is None:
        raise NotFound("household not found")
    vulnerability = HouseholdVulnerability.objects.filter(household=household).first()
    return {
        "household": household,
        "needs": list(household.needs.select_related("agency").order_by("resolved_on", "-noted_on", "kind")),
        "supports": list(household.supports.select_related("agency").order_by("agency__name", "kind")),
        "vulnerability": vulnerability,
    }


# --- who else supports ------------------------------------------------------------------------------------


def supports_overview(*, user, limit: int = 200) -> list[dict]:
    """For the households in the user's jurisdiction that its agency supports (all supported households for a
    user of no agency): who else supports them and with what. Partner staff see a household only through their
    own agency's records of it (their record id and name), never the registry's personal data."""
    paths = personal_data_paths(user=user)
    if not paths:
        return []
    own = user_agency_ids(user=user)
    supports = Support.objects.within_any(paths)
    if own:
        households = list(
            supports.filter(agency_id__in=own)
            .order_by("household_id")
            .values_list("household_id", flat=True)
            .distinct()[:limit]
        )
    else:
        households = list(
            supports.order_by("household_id").values_list("household_id", flat=True).distinct()[:limit]
        )
    rows: dict = {pk: {"household_id": pk, "own_records": [], "others": [], "own": []} for pk in households}
    for s in (
        Support.objects.filter(household_id__in=households)
        .select_related("agency")
        .order_by("agency__name", "kind")
    ):
        item = {
            "agency": s.agency.name,
            "agency_code": s.agency.code,
            "kind": s.kind,
            "start_date": s.start_date,
            "end_date": s.end_date,
        }
        rows[s.household_id]["own" if s.agency_id in own else "others"].append(item)
    if own:
        for r in SourceRecord.objects.filter(agency_id__in=own, person__household_id__in=households).values(
            "person__household_id", "record_id", "first_name", "last_name"
        ):
            rows[r["person__household_id"]]["own_records"].append(
                {"record_id": r["record_id"], "name": f"{r['first_name']} {r['last_name']}".strip()}
            )
    return list(rows.values())


def needs_counts(*, user) -> dict:
    return {
        "review_open": review_queue(user=user).count(),
        "lists": agency_lists_visible(user=user).count(),
        "open_needs": HouseholdNeed.objects.within_any(personal_data_paths(user=user))
        .filter(resolved_on=None)
        .count(),
    }
