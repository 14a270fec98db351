"""Every read of the needs registry, scoped to the acting user's jurisdiction (accounts.personal_data_paths).
Out of scope is NotFound, never "forbidden": `access_<entity>(user, id)` returns a record in the user's scope or
raises NotFound, for the API, the pages and the services alike. Also here: the registry export a linkage run
compares a list with, and the inputs of the vulnerability score (reads the services write from)."""

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Q
from django.utils import timezone

from mahalle.accounts.capabilities import Can, may, require
from mahalle.accounts.models import Role
from mahalle.accounts.selectors import org_unit_in_jurisdiction, personal_data_paths
from mahalle.audit.services import audit_record
from mahalle.cases.models import Case, Classification, Outcome
from mahalle.core.errors import PermissionDenied, ValidationFailed, field_error, first_or_not_found
from mahalle.core.identifiers import national_code_checksum_ok
from mahalle.geo.models import Level, OrgUnit
from mahalle.registry.models import Household, Person
from mahalle.registry.selectors import access_household, access_person

from .models import (
    Agency,
    AgencyList,
    HouseholdNeed,
    HouseholdVulnerability,
    LinkChange,
    LinkStatus,
    NeedKind,
    ReviewPair,
    SourceRecord,
    Support,
)
from .rules import ENGINE_COLUMNS, vulnerability_reason


def _path_q(paths, field: str) -> Q:
    query = Q()
    for path in paths:
        query |= Q(**{f"{field}__prefix": path})
    return query


def user_agency_ids(*, user) -> list[int]:
    return list(user.agency_memberships.values_list("agency_id", flat=True))


def require_here(actor, capability: Can, unit: OrgUnit, what: str) -> None:
    """Refuse (403) unless the actor's role has the capability and the unit lies in the actor's jurisdiction."""
    message = f"you may not {what} here"
    require(actor, capability, message)
    if not org_unit_in_jurisdiction(user=actor, unit=unit):
        raise PermissionDenied(message)


def require_link(actor, agency_list: AgencyList) -> None:
    """Refuse a linkage run of a list the actor may not link (403), or that is not read yet (422)."""
    require_here(actor, Can.LINK, agency_list.org_unit, "link this list")
    if agency_list.status != AgencyList.Status.DONE:
        raise ValidationFailed("the list is not read yet", [field_error("status", "wait until it is done")])


def may_upload(*, actor, agency: Agency, org_unit: OrgUnit) -> bool:
    """Upload roles, into a unit of the actor's jurisdiction; partner staff and post supervisors only for an
    agency they belong to. No actor: the server's operator at the console."""
    if actor is None:
        return True
    if not may(actor, Can.UPLOAD_LISTS) or not org_unit_in_jurisdiction(user=actor, unit=org_unit):
        return False
    return may(actor, Can.ANY_AGENCY) or agency.pk in user_agency_ids(user=actor)


def agencies_for_upload(*, user):
    """The agencies the user may upload for: its own (partner staff), or every agency (coordinators)."""
    if may(user, Can.ANY_AGENCY):
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


def access_agency_list(user, list_id, *, for_update: bool = False) -> AgencyList:
    return first_or_not_found(agency_lists_visible(user=user), list_id, "list", for_update=for_update)


def source_records_visible(*, user):
    records = SourceRecord.objects.within_any(personal_data_paths(user=user))
    if user.role == Role.PARTNER_STAFF:
        records = records.filter(agency_id__in=user_agency_ids(user=user))
    return records


def access_source_record(user, record_id, *, for_update: bool = False) -> SourceRecord:
    return first_or_not_found(
        source_records_visible(user=user), record_id, "source record", for_update=for_update
    )


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


def access_review_pair(user, pair_id, *, for_update: bool = False) -> ReviewPair:
    pairs = review_pairs_visible(user=user).select_related(
        "source_record", "source_record__agency", "person", "person__household", "decided_by"
    )
    return first_or_not_found(pairs, pair_id, "review pair", for_update=for_update)


def review_pair_detail(*, user, pair_id) -> ReviewPair:
    """A pair shown to a reviewer: its source record's personal data is read, so the read is audited."""
    pair = access_review_pair(user, pair_id)
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
    person = access_person(user, person_id)
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
    household = access_household(user, household_id)
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
    household = access_household(user, household_id)
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


# --- the registry export a linkage run compares a list with ---------------------------------------------


def candidate_scope(unit: OrgUnit) -> str:
    """The registry persons a list is compared with: those of the list's county (or the whole subtree of a
    province- or country-level list). Persons move between posts of a county; national runs use the CLI."""
    parts = unit.path.split(".")
    return ".".join(parts[: Level.COUNTY + 1]) + "." if unit.level >= Level.COUNTY else unit.path


def _place_names() -> dict[str, str]:
    """path of each province/county -> its Persian name, for the province/county columns of the export."""
    return dict(
        OrgUnit.objects.filter(level__in=[Level.PROVINCE, Level.COUNTY]).values_list("path", "name_fa")
    )


def _place(names: dict, path: str, level: int) -> str:
    return names.get(".".join(path.split(".")[: level + 1]) + ".", "")


def _birth(birth: dt.date | None, precision: str) -> str:
    """A birth date in the engine's format: a year alone when only the year is known."""
    if birth is None:
        return ""
    return str(birth.year) if precision == "year" else birth.isoformat()


def registry_frame(scope_path: str):
    """The registry persons under `scope_path`, in the engine's input format (a DataFrame)."""
    import pandas as pd  # heavy: loaded only by a linkage run

    names = _place_names()
    rows = (
        Person.objects.filter(org_path__prefix=scope_path)
        .values_list(
            "id",
            "national_code",
            "first_name",
            "last_name",
            "father_name",
            "birth_date",
            "birth_date_precision",
            "sex",
            "mobile",
            "org_path",
            "household__address",
        )
        .iterator(chunk_size=5000)
    )
    records = []
    for pid, code, first, last, father, birth, precision, sex, mobile, path, address in rows:
        records.append(
            (
                str(pid),
                code or "",
                first,
                last,
                father,
                _birth(birth, precision),
                sex,
                mobile,
                _place(names, path, Level.PROVINCE),
                _place(names, path, Level.COUNTY),
                address or "",
            )
        )
    return pd.DataFrame.from_records(records, columns=list(ENGINE_COLUMNS))


def records_frame(records):
    """The records to link, in the engine's input format. A record without province/county gets those of its
    org unit (the list was uploaded for that place), so they compare with the registry's."""
    import pandas as pd  # heavy: loaded only by a linkage run

    names = _place_names()
    return pd.DataFrame.from_records(
        [
            (
                str(r.pk),
                r.national_code,
                r.first_name,
                r.last_name,
                r.father_name,
                _birth(r.birth_date, r.birth_date_precision),
                r.sex,
                r.mobile,
                r.province or _place(names, r.org_path, Level.PROVINCE),
                r.county or _place(names, r.org_path, Level.COUNTY),
                r.address,
            )
            for r in records
        ],
        columns=list(ENGINE_COLUMNS),
    )


# --- the inputs of the vulnerability score ----------------------------------------------------------------


def household_vulnerability_compute(
    household_ids: list, *, today: dt.date | None = None, whole_range: bool = False
) -> dict:
    """{household id: [reasons]} for these households, from four grouped queries. `whole_range`: the ids are
    every household between the first and the last (in pk order), so a range replaces the long IN list."""
    today = today or timezone.localdate()
    try:
        sixty = today.replace(year=today.year - 60)
    except ValueError:  # 29 February
        sixty = today.replace(year=today.year - 60, day=28)
    reasons: dict = defaultdict(list)

    def scope(field: str) -> Q:
        if whole_range:
            return Q(**{f"{field}__gte": household_ids[0], f"{field}__lte": household_ids[-1]})
        return Q(**{f"{field}__in": household_ids})

    members = (
        Person.objects.filter(scope("household_id"))
        .values("household_id")
        .annotate(
            over_60=Count("id", filter=Q(birth_date__lte=sixty)),
            chronic_disease=Count("id", filter=Q(chronic_disease=True)),
            disability=Count("id", filter=Q(disability=True)),
            pregnant=Count("id", filter=Q(pregnant=True)),
        )
    )
    for row in members:
        for code in ("over_60", "chronic_disease", "disability", "pregnant"):
            reasons[row["household_id"]].append(vulnerability_reason(code, row[code]))
    for pk, female, lost in Household.objects.filter(scope("pk")).values_list(
        "pk", "female_headed", "lost_income"
    ):
        reasons[pk].append(vulnerability_reason("female_headed", int(female)))
        reasons[pk].append(vulnerability_reason("lost_income", int(lost)))
    cases = (
        Case.objects.filter(scope("person__household_id"))
        .exclude(classification=Classification.DISCARDED)
        .values("person__household_id")
        .annotate(
            active=Count(
                "person", distinct=True, filter=Q(outcome="") & ~Q(classification=Classification.CONFIRMED)
            ),
            confirmed=Count(
                "person", distinct=True, filter=Q(outcome="", classification=Classification.CONFIRMED)
            ),
            deaths=Count("person", distinct=True, filter=Q(outcome=Outcome.DIED)),
        )
    )
    for row in cases:
        pk = row["person__household_id"]
        reasons[pk].append(vulnerability_reason("active_case", row["active"]))
        reasons[pk].append(vulnerability_reason("confirmed_case", row["confirmed"]))
        reasons[pk].append(vulnerability_reason("death", row["deaths"], cap=None))
    needs = defaultdict(set)
    for pk, kind in (
        HouseholdNeed.objects.filter(scope("household_id"), resolved_on=None)
        .values_list("household_id", "kind")
        .distinct()
    ):
        needs[pk].add(kind)
    for pk, kinds in needs.items():
        reasons[pk].append(vulnerability_reason("breadwinner_died", int(NeedKind.BREADWINNER_DIED in kinds)))
        reasons[pk].append(vulnerability_reason("open_need", len(kinds), cap=None))
    return {pk: [r for r in found if r] for pk, found in reasons.items()}
