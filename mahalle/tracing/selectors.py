"""Reads of contact tracing, scoped to the acting user.

Contacts: the user's jurisdiction (the contact's own post and the units above it), plus the contacts assigned to
the user as tracer and those whose tracing team's unit is inside the user's jurisdiction. Nobody else. This rule
is written once, in `contacts_visible`: the pages, the API and the services (which lock a contact through it)
all go through it.

Clusters: a cluster is shown to anyone who may see one of its nodes (a coordinator above a cluster that spans
posts or counties sees all of it); nodes outside the user's jurisdiction are drawn anonymised (no name, no id).
"""

import datetime as dt
from collections import Counter, defaultdict

from django.db import connection
from django.db.models import BooleanField, CharField, Count, Exists, ExpressionWrapper, Max, OuterRef, Q
from django.db.models.functions import Cast
from django.utils import timezone

from mahalle.accounts.selectors import org_unit_in_jurisdiction, path_within, personal_data_paths
from mahalle.cases.models import Case, Classification
from mahalle.core.errors import NotFound, field_error, first_or_not_found
from mahalle.core.identifiers import InvalidIdentifier, normalize_mobile, normalize_national_code
from mahalle.core.persian import search_key
from mahalle.geo.models import OrgUnit
from mahalle.registry.models import Person

from .models import ChainCase, Contact, ContactFollowUp, Event, EventAttendance, TransmissionLink
from .rules import tracing_setting


def _paths_q(paths, field: str) -> Q:
    query = Q(pk__in=[])
    for path in paths:
        query |= Q(**{f"{field}__prefix": path})
    return query


def contacts_visible(*, user):
    """THE tracing visibility rule: the contacts this user may see and trace (see the module docstring)."""
    paths = personal_data_paths(user=user)
    if not paths:
        return Contact.objects.none()
    return Contact.objects.filter(
        _paths_q(paths, "org_path") | Q(assigned_tracer=user) | _paths_q(paths, "tracing_team_path")
    )


def access_contact(user, contact_id, *, for_update: bool = False) -> Contact:
    """A contact the user may see (with its person, case and tracer), else NotFound ("contact not found")."""
    contacts = contacts_visible(user=user)
    if not for_update:  # a lock cannot take the nullable side of the joins
        contacts = contacts.select_related("person", "case", "case__person", "assigned_tracer", "org_unit")
    return first_or_not_found(contacts, contact_id, "contact", for_update=for_update)


def contacts_of_case(*, user, case):
    return (
        contacts_visible(user=user)
        .filter(case=case)
        .select_related("person", "assigned_tracer", "became_case")
        .order_by("status", "person__last_name", "id")
    )


def open_case_of(person_id) -> Case | None:
    """The person's latest open (not discarded) case, if any: a contact may be a case himself."""
    return (
        Case.objects.filter(person_id=person_id, outcome="")
        .exclude(classification=Classification.DISCARDED)
        .order_by("-created_at")
        .first()
    )


def person_match(*, national_code: str = "", mobile: str = "", first_name: str = "", last_name: str = ""):
    """Find a registered person (anywhere: a case's contacts may live in another post) by national code, or by
    mobile together with the name. Returns (person or None, field errors)."""
    if national_code:
        try:
            code = normalize_national_code(national_code)
        except InvalidIdentifier as exc:
            return None, [field_error("national_code", str(exc))]
        return Person.objects.filter(national_code=code).first(), []
    key = search_key(f"{first_name}{last_name}")
    if mobile:
        try:
            number = normalize_mobile(mobile)
        except InvalidIdentifier as exc:
            return None, [field_error("mobile", str(exc))]
        candidates = list(Person.objects.filter(mobile=number)[:20])
        named = [p for p in candidates if key and p.name_key == key]
        if len(named) == 1:
            return named[0], []
        if len(candidates) == 1 and not key:
            return candidates[0], []
    return None, []


def events_visible(*, user):
    return Event.objects.within_any(personal_data_paths(user=user))


def access_event(user, event_id, *, for_update: bool = False) -> Event:
    return first_or_not_found(events_visible(user=user), event_id, "event", for_update=for_update)


def _active(user, on: dt.date, mine: bool):
    contacts = contacts_visible(user=user).filter(
        status=Contact.Status.CONFIRMED, became_case=None, last_exposure__lte=on, follow_up_end__gte=on
    )
    if mine:
        contacts = contacts.filter(assigned_tracer=user)
    return contacts.select_related("person", "assigned_tracer")


def contacts_to_call(*, user, on: dt.date, mine: bool = False):
    """Confirmed contacts in follow-up on `on` who have no follow-up that day yet."""
    done = ContactFollowUp.objects.filter(contact=OuterRef("pk"), date=on)
    return _active(user, on, mine).exclude(Exists(done)).order_by("follow_up_end", "id")


def contacts_unreachable(*, user, on: dt.date, mine: bool = False):
    """Contacts in follow-up not reached on two days running (the last two days up to `on`)."""

    def unreachable(day):
        return Exists(
            ContactFollowUp.objects.filter(
                contact=OuterRef("pk"), date=day, status=ContactFollowUp.Status.UNREACHABLE
            )
        )

    yesterday, before = on - dt.timedelta(days=1), on - dt.timedelta(days=2)
    return (
        _active(user, on, mine)
        .filter((unreachable(on) & unreachable(yesterday)) | (unreachable(yesterday) & unreachable(before)))
        .order_by("follow_up_end", "id")
    )


def contacts_ending(*, user, on: dt.date, mine: bool = False):
    """Contacts whose follow-up (and quarantine) ends on `on`."""
    return _active(user, on, mine).filter(follow_up_end=on).order_by("id")


def contacts_to_confirm(*, user, mine: bool = False):
    contacts = contacts_visible(user=user).filter(status=Contact.Status.LISTED)
    if mine:
        contacts = contacts.filter(assigned_tracer=user)
    return contacts.select_related("person").order_by("created_at", "id")


# --- the graph of one cluster -------------------------------------------------------------------------------


def _generations(case_ids, parent_of: dict) -> dict:
    gen: dict = {}

    def depth(case_id):
        chain, current = [], case_id
        while current not in gen and current in parent_of and current not in chain:
            chain.append(current)
            current = parent_of[current]
        base = gen.get(current, 0)
        if current not in gen:
            gen[current] = 0
        for step, node in enumerate(reversed(chain), start=1):
            gen[node] = base + step
        return gen[case_id]

    for case_id in case_ids:
        depth(case_id)
    return gen


def _text(field: str) -> Cast:
    return Cast(field, output_field=CharField())


def _db_text(value) -> str:
    """A UUID as the database's text form of it (what `_text` returns): hex on SQLite, dashed on PostgreSQL."""
    return value.hex if connection.vendor == "sqlite" else str(value)


def _dashed(text: str) -> str:
    return text if len(text) == 36 else f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _person_rows(queryset, *fields: str, **keys: str) -> list[dict]:
    """A cluster's persons (its cases, contacts, attendances) as rows: the post, the person's name and id (as text,
    `person_key`), and the `fields` asked for, and each of `keys` the text of the id field it names."""
    return list(
        queryset.values(
            "org_path",
            "person__first_name",
            "person__last_name",
            *fields,
            person_key=_text("person_id"),
            **{key: _text(field) for key, field in keys.items()},
        )
    )


def cluster_graph(*, user, case_id) -> dict:
    """The cluster of a case the user may see (else NotFound): nodes (persons and events) with their kind,
    classification, outcome and generation, and edges (infected, contact, attended). A node outside the user's
    jurisdiction is anonymised: no name, no id, no post.

    Ids come from the database as text (`*_key`): a cluster has up to 10,000 nodes, and building and hashing
    that many uuid.UUID objects was a third of the time of the answer."""
    paths = personal_data_paths(user=user)
    case = first_or_not_found(Case.objects.within_any(paths).select_related("person"), case_id, "case")
    node = ChainCase.objects.filter(case_id=case.pk).first()
    if node is None:
        cases = [
            {
                "case_key": _db_text(case.pk),
                "person_key": _db_text(case.person_id),
                "org_path": case.org_path,
                "case__classification": case.classification,
                "case__outcome": case.outcome,
                "new": case.created_at >= timezone.now() - dt.timedelta(days=7),
                "person__first_name": case.person.first_name,
                "person__last_name": case.person.last_name,
            }
        ]
        contacts, events, attendances, links, cluster_id = [], [], [], [], None
    else:
        cluster_id = node.cluster_id
        since = timezone.now() - dt.timedelta(days=7)
        cases = _person_rows(
            ChainCase.objects.filter(cluster_id=cluster_id).annotate(
                new=ExpressionWrapper(Q(case__created_at__gte=since), output_field=BooleanField())
            ),
            "case__classification",
            "case__outcome",
            "new",
            case_key="case_id",
        )
        contacts = _person_rows(
            Contact.objects.filter(cluster_id=cluster_id)
            .exclude(status=Contact.Status.REMOVED)
            .order_by()
            .annotate(new=ExpressionWrapper(Q(created_at__gte=since), output_field=BooleanField())),
            "setting",
            "became_case_id",
            "new",
            case_key="case_id",
        )
        events = list(
            Event.objects.filter(cluster_id=cluster_id).values(
                "name", "kind", "date", "org_path", event_key=_text("id")
            )
        )
        attendances = _person_rows(
            EventAttendance.objects.filter(cluster_id=cluster_id), event_key="event_id"
        )
        links = list(
            TransmissionLink.objects.filter(cluster_id=cluster_id).values_list(
                _text("infector_id"), _text("infectee_id")
            )
        )
    return _graph(user, paths, _db_text(case.pk), cluster_id, cases, contacts, events, attendances, links)


def _person_node(row, kind: str, *, new: bool) -> dict:
    return {
        "kind": kind,
        "org_path": row["org_path"],
        "classification": row.get("case__classification", ""),
        "outcome": row.get("case__outcome", ""),
        "case_id": row["case_key"] if kind == "case" else None,
        "new": new,
        "name": f"{row['person__first_name']} {row['person__last_name']}".strip(),
    }


def _graph_persons(cases, contacts, attendances) -> dict:
    """One node per person (a person is one node, whichever records name them): a case first, else a contact."""
    persons: dict = {}
    for row in cases:
        persons[row["person_key"]] = _person_node(row, "case", new=bool(row["new"]))
    for row in contacts:
        persons.setdefault(row["person_key"], _person_node(row, "contact", new=bool(row["new"])))
    for row in attendances:
        persons.setdefault(row["person_key"], _person_node(row, "contact", new=False))
    return persons


def _graph_generations(
    persons, parent_of, person_of_case, contacts, events, attendees_of
) -> tuple[dict, dict]:
    """Generations of persons (cases down their chains; a contact one below its case; an attendee one below its
    event) and of events (a row above the earliest generation of their cases)."""
    gen = _generations([pid for pid, p in persons.items() if p["kind"] == "case"], parent_of)
    for row in contacts:
        index = person_of_case.get(row["case_key"])
        if index is not None and row["person_key"] not in gen:
            gen[row["person_key"]] = gen.get(index, 0) + 1
    event_gen = {}
    for event in events:
        case_gens = [
            gen[r["person_key"]]
            for r in attendees_of[event["event_key"]]
            if persons[r["person_key"]]["kind"] == "case" and r["person_key"] in gen
        ]
        event_gen[event["event_key"]] = (
            max(min(case_gens) - 1, 0) if case_gens else 0
        )  # a row above its cases
        for r in attendees_of[event["event_key"]]:
            gen.setdefault(r["person_key"], event_gen[event["event_key"]] + 1)
    return gen, event_gen


def _graph_nodes(
    persons, gen, events, event_gen, attendees_of, *, index_key, visible_path
) -> tuple[list, dict]:
    """The nodes, numbered (persons by generation, then events), and their keys by ("p", person) / ("e", event).
    A node outside the user's jurisdiction is anonymised: no name, no id."""
    threshold = tracing_setting("SUPERSPREADING_CASES")
    keys: dict = {}
    nodes = []
    for number, (pid, p) in enumerate(sorted(persons.items(), key=lambda kv: (gen.get(kv[0], 0), kv[0])), 1):
        key = f"n{number}"
        keys[("p", pid)] = key
        visible = visible_path(p["org_path"])
        nodes.append(
            {
                "key": key,
                "kind": p["kind"],
                "classification": p["classification"],
                "outcome": p["outcome"],
                "generation": gen.get(pid, 0),
                "visible": visible,
                "label": p["name"] if visible else "",
                "person_id": _dashed(pid) if visible else None,
                "case_id": _dashed(p["case_id"]) if visible and p["case_id"] else None,
                "is_index": p["case_id"] == index_key,
            }
        )
    for number, event in enumerate(events, len(nodes) + 1):
        key = f"n{number}"
        keys[("e", event["event_key"])] = key
        visible = visible_path(event["org_path"])
        linked_cases = sum(
            1 for r in attendees_of[event["event_key"]] if persons[r["person_key"]]["kind"] == "case"
        )
        nodes.append(
            {
                "key": key,
                "kind": "event",
                "classification": "",
                "outcome": "",
                "generation": event_gen[event["event_key"]],
                "visible": visible,
                "label": f"{event['name']} ({event['date']})" if visible else "",
                "person_id": None,
                "case_id": None,
                "is_index": False,
                "event_kind": event["kind"],
                "linked_cases": linked_cases,
                "superspreading": linked_cases >= threshold,
            }
        )
    return nodes, keys


def _graph_edges(keys, parent_of, person_of_case, contacts, attendances) -> list[dict]:
    edges = []
    for child, parent in parent_of.items():
        edges.append({"source": keys[("p", parent)], "target": keys[("p", child)], "kind": "infected"})
    for row in contacts:
        index = person_of_case.get(row["case_key"])
        if index is not None and index != row["person_key"]:
            edges.append(
                {
                    "source": keys[("p", index)],
                    "target": keys[("p", row["person_key"])],
                    "kind": "contact",
                    "setting": row["setting"],
                }
            )
    for row in attendances:
        edges.append(
            {
                "source": keys[("e", row["event_key"])],
                "target": keys[("p", row["person_key"])],
                "kind": "attended",
            }
        )
    return edges


def _graph(user, paths, index_key, cluster_id, cases, contacts, events, attendances, links) -> dict:
    seen_paths: dict = {}

    def visible_path(org_path: str) -> bool:
        if org_path not in seen_paths:
            seen_paths[org_path] = path_within(org_path, paths)
        return seen_paths[org_path]

    person_of_case = {row["case_key"]: row["person_key"] for row in cases}
    parent_of = {
        person_of_case[infectee]: person_of_case[infector]
        for infector, infectee in links
        if infectee in person_of_case and infector in person_of_case
    }
    persons = _graph_persons(cases, contacts, attendances)
    attendees_of = defaultdict(list)
    for row in attendances:
        attendees_of[row["event_key"]].append(row)
    gen, event_gen = _graph_generations(persons, parent_of, person_of_case, contacts, events, attendees_of)
    nodes, keys = _graph_nodes(
        persons, gen, events, event_gen, attendees_of, index_key=index_key, visible_path=visible_path
    )
    edges = _graph_edges(keys, parent_of, person_of_case, contacts, attendances)
    driving = Counter(row["setting"] for row in contacts if row["became_case_id"])
    stats = {
        "size": len(nodes),
        "cases": sum(1 for p in persons.values() if p["kind"] == "case"),
        "contacts": sum(1 for p in persons.values() if p["kind"] == "contact"),
        "events": len(events),
        "growth_7d": sum(1 for p in persons.values() if p["new"]),
        "generations": (max(gen.values()) + 1) if gen else 1,
        "settings": dict(Counter(row["setting"] for row in contacts)),
        "settings_driving": dict(driving),
        "superspreading_events": sum(1 for n in nodes if n.get("superspreading")),
    }
    return {
        "cluster_id": str(cluster_id) if cluster_id else None,
        "stats": stats,
        "nodes": nodes,
        "edges": edges,
    }


# --- clusters of an org unit, with their statistics ---------------------------------------------------------


def org_unit_for_clusters(*, user, code: str):
    """An org unit inside the user's jurisdiction (any role: the statistics are aggregates), else NotFound."""
    unit = OrgUnit.objects.filter(code=(code or "").strip()).first()
    if unit is None or not org_unit_in_jurisdiction(user=user, unit=unit):
        raise NotFound("org unit not found")
    return unit


def clusters_in_unit(*, user, unit, limit: int = 50) -> dict:
    """Clusters with records in the unit's subtree, largest first, with their statistics counted inside the
    subtree: cases, contacts (not yet cases), events, attendees, size (cases + contacts + events), growth in
    the last 7 days, generations, the exposure settings of contacts who became cases (what drives them), the
    posts it spans, and superspreading events (≥ MAHALLE_TRACING["SUPERSPREADING_CASES"] linked cases)."""
    path = unit.path
    since = timezone.now() - dt.timedelta(days=7)
    threshold = tracing_setting("SUPERSPREADING_CASES")
    stats: dict = defaultdict(lambda: Counter())
    for row in (
        ChainCase.objects.filter(org_path__prefix=path)
        .values("cluster_id")
        .annotate(n=Count("pk"), new=Count("pk", filter=Q(created_at__gte=since)))
    ):
        stats[row["cluster_id"]].update(cases=row["n"], growth_7d=row["new"])
    for row in (
        Contact.objects.filter(org_path__prefix=path, became_case=None)
        .exclude(status=Contact.Status.REMOVED)
        .values("cluster_id")
        .annotate(n=Count("pk"), new=Count("pk", filter=Q(created_at__gte=since)))
    ):
        stats[row["cluster_id"]].update(contacts=row["n"], growth_7d=row["new"])
    for row in Event.objects.filter(org_path__prefix=path).values("cluster_id").annotate(n=Count("pk")):
        stats[row["cluster_id"]].update(events=row["n"])
    for row in (
        EventAttendance.objects.filter(org_path__prefix=path).values("cluster_id").annotate(n=Count("pk"))
    ):
        stats[row["cluster_id"]].update(attendees=row["n"])
    for cid in [cid for cid, c in stats.items() if not (c["cases"] or c["contacts"] or c["attendees"])]:
        del stats[cid]  # an event nobody is linked to yet is not a cluster
    for counter in stats.values():
        counter["size"] = counter["cases"] + counter["contacts"] + counter["events"]
    ranked = sorted(stats.items(), key=lambda kv: (-kv[1]["size"], str(kv[0])))
    top = ranked[:limit]
    top_ids = [cid for cid, _ in top]
    # generations: stored on each case (maintained when a link is recorded)
    generations = dict(
        ChainCase.objects.filter(cluster_id__in=top_ids)
        .values("cluster_id")
        .annotate(g=Max("generation"))
        .values_list("cluster_id", "g")
    )
    driving = defaultdict(Counter)
    for cid, setting, n in (
        Contact.objects.filter(cluster_id__in=top_ids, org_path__prefix=path)
        .exclude(became_case=None)
        .values_list("cluster_id", "setting")
        .annotate(n=Count("pk"))
    ):
        driving[cid][setting] += n
    spans: dict = defaultdict(set)
    for cid, org_path in (
        ChainCase.objects.filter(cluster_id__in=top_ids)
        .order_by()
        .values_list("cluster_id", "org_path")
        .distinct()
    ):
        spans[cid].add(org_path)
    superspreading = defaultdict(list)
    for event_id, cid, name, date, n in (
        EventAttendance.objects.filter(cluster_id__in=top_ids)
        .exclude(case=None)
        .values_list("event_id", "cluster_id", "event__name", "event__date")
        .annotate(n=Count("pk"))
        .filter(n__gte=threshold)
    ):
        superspreading[cid].append({"event_id": str(event_id), "name": name, "date": date, "linked_cases": n})
    example_case: dict = {}
    personal = personal_data_paths(user=user)
    if personal:
        for cid in top_ids:  # one indexed lookup each: any case of the cluster the user may open
            case_id = (
                ChainCase.objects.filter(cluster_id=cid)
                .filter(_paths_q(personal, "org_path"))
                .order_by()
                .values_list("case_id", flat=True)[:1]
            )
            for found in case_id:
                example_case[cid] = str(found)
    clusters = [
        {
            "cluster_id": str(cid),
            "size": c["size"],
            "cases": c["cases"],
            "contacts": c["contacts"],
            "events": c["events"],
            "attendees": c["attendees"],
            "growth_7d": c["growth_7d"],
            "generations": (generations.get(cid) or 0) + 1,
            "settings_driving": dict(driving.get(cid, {})),
            "posts": len(spans.get(cid, ())),
            "superspreading_events": superspreading.get(cid, []),
            "case_id": example_case.get(cid),
        }
        for cid, c in top
    ]
    return {
        "org_unit": unit.code,
        "clusters_total": len(stats),
        "cases_in_clusters": sum(c["cases"] for c in stats.values()),
        "contacts": sum(c["contacts"] for c in stats.values()),
        "clusters": clusters,
    }
