"""Linking an agency list to the registry: the request (the button and the API) and the writing of a run's
answer. The run itself (the pure engine in needs.linkage, outside any transaction) is needs.jobs.agency_list_link.
Every change of a record's person is a LinkChange row (services._links), so each can be undone.
"""

from collections import defaultdict

from django.utils import timezone

from mahalle.audit.services import audit_record
from mahalle.core.service import service
from mahalle.registry.models import Person

from ..models import AgencyList, LinkStatus, ReviewPair, SourceRecord
from ..rules import LINKED
from ..selectors import require_link
from ._links import _attach_many
from ._persons import _new_persons_many


@service
def agency_list_link_request(*, actor, agency_list: AgencyList) -> AgencyList:
    """Ask for a linkage run of the list (the button and the API): checked now, marked 'linking' (the list page
    polls while it is). needs.tasks.agency_list_link_queue queues the run once this is committed."""
    require_link(actor, agency_list)
    AgencyList.objects.filter(pk=agency_list.pk).update(
        link_status=AgencyList.LinkStatus.LINKING, link_message=""
    )
    audit_record(
        actor=actor,
        action="link",
        obj=agency_list,
        org_unit=agency_list.org_unit,
        details={"requested": True},
    )
    agency_list.refresh_from_db()
    return agency_list


@service
def agency_list_link_write(
    *, actor, agency_list: AgencyList, records: list, pairs: list, auto: float, review: float
) -> dict:
    """What a linkage run leads to, in one transaction: for each of `records` (the list's unlinked records),
    given the engine's `pairs` [(record id, person id, probability, evidence)] and the thresholds, an auto link,
    review pairs, or a new registry person (and household); the needs and supports of linked records; the
    list's link counts, and the run's audit event. Returns the counts (needs.jobs.agency_list_link runs it)."""
    require_link(actor, agency_list)
    # One run writes at a time; a record another run linked meanwhile is left as that run left it.
    AgencyList.objects.select_for_update().filter(pk=agency_list.pk).first()
    still = set(
        SourceRecord.objects.filter(pk__in=[r.pk for r in records])
        .exclude(link_status__in=LINKED)
        .values_list("pk", flat=True)
    )
    records = [r for r in records if r.pk in still]
    by_record: dict = defaultdict(list)
    for record_id, person_id, probability, evidence in pairs:
        if probability >= review:
            by_record[record_id].append((probability, person_id, evidence))
    decided = defaultdict(dict)
    for record_id, person_id, decision in (
        ReviewPair.objects.filter(source_record__in=[r.pk for r in records])
        .exclude(decision="")
        .values_list("source_record_id", "person_id", "decision")
    ):
        decided[str(record_id)][str(person_id)] = decision
    person_ids = {pid for candidates in by_record.values() for _, pid, _ in candidates}
    persons = Person.objects.select_related("household").in_bulk(list(person_ids))
    persons = {str(k): v for k, v in persons.items()}
    counts = {"records": len(records), "auto": 0, "review": 0, "new": 0, "unplaced": 0, "kept_by_reviewer": 0}
    households: dict = {}
    later: list = []
    links: list = []
    for record in records:
        key = str(record.pk)
        human = decided.get(key, {})
        candidates = sorted(
            (c for c in by_record.get(key, []) if c[1] in persons and c[1] not in human), reverse=True
        )
        if any(decision == ReviewPair.Decision.SAME for decision in human.values()):
            counts["kept_by_reviewer"] += 1  # a reviewer said "same": a later run never undoes that
            continue
        if candidates and candidates[0][0] >= auto and (len(candidates) == 1 or candidates[1][0] < auto):
            probability, person_id, _evidence = candidates[0]
            links.append((record, persons[person_id], LinkStatus.AUTO, "auto", probability))
            if record.household_ref and persons[person_id].household_id:
                households.setdefault((agency_list.pk, record.household_ref), persons[person_id].household)
            counts["auto"] += 1
        elif candidates:
            for probability, person_id, evidence in candidates:
                pair, created = ReviewPair.objects.get_or_create(
                    source_record=record,
                    person=persons[person_id],
                    defaults={
                        "org_path": record.org_path,
                        "match_probability": probability,
                        "evidence": evidence,
                    },
                )
                if not created and pair.decision == "":
                    pair.match_probability, pair.evidence = probability, evidence
                    pair.save(update_fields=["match_probability", "evidence", "modified_at"])
            record.link_status, record.match_probability = LinkStatus.REVIEW, candidates[0][0]
            record.save(update_fields=["link_status", "match_probability", "modified_at"])
            counts["review"] += 1
        else:
            later.append(record)
    # new persons last, so they can join households found by their list-mates' links
    made = _new_persons_many(later, actor=actor, households=households)
    unplaced = []
    for record in later:
        person = made[record.pk]
        if person is None:  # no health post to register it in (or values the registry refuses): it waits
            record.link_status = LinkStatus.UNPLACED
            unplaced.append(record)
            counts["unplaced"] += 1
            continue
        links.append((record, person, LinkStatus.NEW, "new", None))
        counts["new"] += 1
    for start in range(0, len(unplaced), 900):
        SourceRecord.objects.filter(pk__in=[r.pk for r in unplaced[start : start + 900]]).update(
            link_status=LinkStatus.UNPLACED
        )
    _attach_many(links, actor=actor)
    AgencyList.objects.filter(pk=agency_list.pk).update(
        link_status=AgencyList.LinkStatus.LINKED,
        linked_at=timezone.now(),
        link_counts=counts,
        link_message="",
    )
    audit_record(
        actor=actor,
        action="link",
        obj=agency_list,
        org_unit=agency_list.org_unit,
        details={"counts": counts, "auto_link": auto, "review": review},
    )
    return counts
