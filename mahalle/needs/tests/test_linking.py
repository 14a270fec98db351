"""The linkage service around the engine: what it writes for each answer of the engine, in one transaction.

The engine's answer is given here (a list of (record, person, probability, evidence)) so every threshold case
is exact; test_link_engine.py runs the real engine end to end."""

import pytest

from mahalle.accounts.models import Role
from mahalle.audit.models import AuditEvent
from mahalle.core.errors import PermissionDenied, ValidationFailed
from mahalle.needs import jobs
from mahalle.needs.jobs import agency_list_link
from mahalle.needs.models import (
    AgencyList,
    HouseholdNeed,
    LinkChange,
    ReviewDecision,
    ReviewPair,
    SourceRecord,
    Support,
)
from mahalle.needs.services import (
    linking,
    review_pair_decide,
    review_pair_undo,
    source_record_relink,
    source_record_split,
)
from mahalle.registry.models import Household, Person
from mahalle.tests.test_jurisdiction_matrix import snapshot

from .factories import AgencyFactory, AgencyListFactory, SourceRecordFactory


@pytest.fixture
def setup(tree, users, people):
    agency = AgencyFactory(code="relief")
    agency_list = AgencyListFactory(agency=agency, org_unit=tree["post_a1"])
    records = {
        key: SourceRecordFactory(agency_list=agency_list, record_id=key, row_number=i, household_ref=ref)
        for i, (key, ref) in enumerate([("A", ""), ("B", ""), ("C", "H9"), ("D", "H9")], 2)
    }
    return {
        "list": agency_list,
        "records": records,
        "people": people,
        "actor": users[Role.COUNTY_COORDINATOR],
    }


def answer(monkeypatch, pairs):
    """The engine's answer: [(record key, person, probability)]."""

    def engine(new, registry, auto, review):
        ids = {r.record_id: str(r.pk) for r in SourceRecord.objects.all()}
        assert set(new["record_id"]) <= set(ids.values())
        return [
            (ids[key], str(person.pk), p, {"first_name": {"level": "exact", "weight": 4.2}})
            for key, person, p in pairs
        ]

    monkeypatch.setattr(jobs, "_engine_pairs", engine)


def test_auto_links_review_pairs_and_new_persons(setup, monkeypatch):
    a1, a2 = setup["people"]["post_a1"], setup["people"]["post_a2"]
    answer(monkeypatch, [("A", a1, 0.995), ("B", a2, 0.9), ("B", a1, 0.85), ("D", a2, 0.5)])
    persons_before = Person.objects.count()
    counts = agency_list_link(actor=setup["actor"], agency_list=setup["list"])
    assert counts == {"records": 4, "auto": 1, "review": 1, "new": 2, "unplaced": 0, "kept_by_reviewer": 0}
    records = {r.record_id: r for r in SourceRecord.objects.all()}
    assert (records["A"].person, records["A"].link_status, records["A"].match_probability) == (
        a1,
        "auto",
        0.995,
    )
    assert (records["B"].person, records["B"].link_status) == (None, "review")
    assert [(p.person, p.match_probability) for p in ReviewPair.objects.order_by("-match_probability")] == [
        (a2, 0.9),
        (a1, 0.85),
    ]
    # C and D (below the review threshold) are new persons, in one new household (their household_ref)
    assert Person.objects.count() == persons_before + 2
    c, d = records["C"].person, records["D"].person
    assert (records["C"].link_status, records["D"].link_status) == ("new", "new")
    assert c.household_id == d.household_id and c.household_id is not None
    assert (c.org_unit, c.last_name, c.created_by) == (
        setup["list"].org_unit,
        records["C"].last_name,
        setup["actor"],
    )
    assert c.household.head_id == c.pk
    # each linked record's need and support now belong to its person's household
    assert sorted(HouseholdNeed.objects.values_list("household_id", "kind", "source")) == sorted(
        [
            (a1.household_id, "food", "agency_list"),
            (c.household_id, "food", "agency_list"),
            (c.household_id, "food", "agency_list"),
        ]
    )
    assert Support.objects.filter(household=a1.household, agency=setup["list"].agency).count() == 1
    assert sorted(LinkChange.objects.values_list("action", flat=True)) == ["auto", "new", "new"]
    setup["list"].refresh_from_db()
    assert (setup["list"].link_status, setup["list"].link_counts["auto"]) == ("linked", 1)
    assert AuditEvent.objects.get(action="link").details["counts"] == counts
    created = AuditEvent.objects.filter(action="create", object_type="registry.person")
    assert sorted(created.values_list("object_id", flat=True)) == sorted([str(c.pk), str(d.pk)])


def test_two_candidates_above_auto_link_go_to_review(setup, monkeypatch):
    a1, a2 = setup["people"]["post_a1"], setup["people"]["post_a2"]
    answer(monkeypatch, [("A", a1, 0.995), ("A", a2, 0.993)])
    agency_list_link(actor=setup["actor"], agency_list=setup["list"])
    assert SourceRecord.objects.get(record_id="A").link_status == "review"
    assert ReviewPair.objects.count() == 2


def test_thresholds_come_from_settings(setup, monkeypatch, settings):
    settings.MAHALLE_LINKAGE = {"AUTO_LINK": 0.999, "REVIEW": 0.6}
    a1 = setup["people"]["post_a1"]
    answer(monkeypatch, [("A", a1, 0.995), ("D", a1, 0.65)])
    agency_list_link(actor=setup["actor"], agency_list=setup["list"])
    assert {r.record_id: r.link_status for r in SourceRecord.objects.all()} == {
        "A": "review",
        "B": "new",
        "C": "new",
        "D": "review",
    }


def test_a_run_stopped_half_way_leaves_the_registry_as_it_was(setup, monkeypatch):
    a1 = setup["people"]["post_a1"]
    answer(monkeypatch, [("A", a1, 0.995), ("B", a1, 0.9)])
    real = linking._attach_many

    def crash(links, **kwargs):  # everything is written (persons, households, links, needs), then the crash
        real(links, **kwargs)
        assert Person.objects.count() == persons_before + 2
        raise RuntimeError("the worker was killed")

    persons_before = Person.objects.count()
    monkeypatch.setattr(linking, "_attach_many", crash)
    models = (Person, Household, SourceRecord, ReviewPair, HouseholdNeed, Support, LinkChange)
    before = [snapshot(m) for m in models]
    with pytest.raises(RuntimeError):
        agency_list_link(actor=setup["actor"], agency_list=setup["list"])
    assert [snapshot(m) for m in models] == before
    assert AgencyList.objects.get(pk=setup["list"].pk).link_status == "failed"
    monkeypatch.setattr(linking, "_attach_many", real)
    assert agency_list_link(actor=setup["actor"], agency_list=setup["list"])["new"] == 2


def test_a_later_run_never_overrides_a_reviewer(setup, monkeypatch):
    a1, a2 = setup["people"]["post_a1"], setup["people"]["post_a2"]
    reviewer = setup["actor"]
    answer(monkeypatch, [("B", a2, 0.9), ("B", a1, 0.85), ("A", a1, 0.9)])
    agency_list_link(actor=reviewer, agency_list=setup["list"])
    different = ReviewPair.objects.get(source_record__record_id="B", person=a2)
    review_pair_decide(actor=reviewer, pair=different, decision="different", reason="another father")
    same = ReviewPair.objects.get(source_record__record_id="A", person=a1)
    review_pair_decide(actor=reviewer, pair=same, decision="same", reason="same national code on the card")
    decided = ReviewPair.objects.filter(decision__in=["same", "different"]).values_list(
        "pk", "decision", "match_probability", "decided_by", "reason"
    )
    decided_before = sorted(decided)
    # the model now thinks B is a2 for sure, and A is a2: neither may change what the reviewer said
    answer(monkeypatch, [("B", a2, 0.9999), ("B", a1, 0.87), ("A", a2, 0.9999)])
    setup["list"].refresh_from_db()
    counts = agency_list_link(actor=reviewer, agency_list=setup["list"])
    assert sorted(decided) == decided_before
    record_b = SourceRecord.objects.get(record_id="B")
    assert (record_b.person, record_b.link_status) == (None, "review")
    assert ReviewPair.objects.get(source_record=record_b, person=a1).match_probability == 0.87
    assert SourceRecord.objects.get(record_id="A").person == a1
    assert counts["auto"] == 0


def test_review_same_then_undo(setup, monkeypatch):
    a1 = setup["people"]["post_a1"]
    reviewer = setup["actor"]
    answer(monkeypatch, [("A", a1, 0.9)])
    agency_list_link(actor=reviewer, agency_list=setup["list"])
    pair = ReviewPair.objects.get()
    review_pair_decide(actor=reviewer, pair=pair, decision="same", reason="photo of the card")
    record = SourceRecord.objects.get(record_id="A")
    assert (record.person, record.link_status) == (a1, "reviewed")
    assert Support.objects.filter(household=a1.household).count() == 1
    review_pair_undo(actor=reviewer, pair=pair, reason="clicked the wrong one")
    record.refresh_from_db()
    pair.refresh_from_db()
    assert (record.person, record.link_status, pair.decision) == (None, "review", "")
    assert Support.objects.filter(household=a1.household).count() == 0
    assert list(ReviewDecision.objects.values_list("decision", "previous", "by", "reason")) == [
        ("same", "", reviewer.pk, "photo of the card"),
        ("undo", "same", reviewer.pk, "clicked the wrong one"),
    ]
    assert list(LinkChange.objects.filter(source_record=record).values_list("action", flat=True)) == [
        "reviewed",
        "unlinked",
    ]
    assert [e.details["decision"] for e in AuditEvent.objects.filter(action="review").order_by("id")] == [
        "same",
        "undo",
    ]


def test_different_on_the_last_candidate_makes_a_new_person(setup, monkeypatch):
    a1 = setup["people"]["post_a1"]
    answer(monkeypatch, [("A", a1, 0.9)])
    agency_list_link(actor=setup["actor"], agency_list=setup["list"])
    before = Person.objects.count()
    review_pair_decide(actor=setup["actor"], pair=ReviewPair.objects.get(), decision="different")
    record = SourceRecord.objects.get(record_id="A")
    assert (record.link_status, Person.objects.count()) == ("new", before + 1)
    assert record.person != a1


def test_split_and_relink(setup, monkeypatch):
    a1 = setup["people"]["post_a1"]
    answer(monkeypatch, [("A", a1, 0.999)])
    agency_list_link(actor=setup["actor"], agency_list=setup["list"])
    record = SourceRecord.objects.get(record_id="A")
    source_record_split(actor=setup["actor"], record=record, reason="a namesake")
    record.refresh_from_db()
    assert record.person != a1 and record.person.household_id == a1.household_id
    assert Support.objects.filter(household=a1.household).count() == 1  # same household: support stays
    source_record_relink(actor=setup["actor"], record=record, person=a1, reason="the split was wrong")
    record.refresh_from_db()
    assert record.person == a1
    assert list(record.link_changes.values_list("action", "to_person")) == [
        ("auto", a1.pk),
        ("split", record.link_changes.get(action="split").to_person_id),
        ("merge", a1.pk),
    ]


@pytest.mark.parametrize("role", [Role.FIELD_VOLUNTEER, Role.PARTNER_STAFF, Role.ANALYST])
def test_roles_that_may_not_link_or_review(setup, monkeypatch, users, role):
    a1 = setup["people"]["post_a1"]
    answer(monkeypatch, [("A", a1, 0.9)])
    with pytest.raises(PermissionDenied):
        agency_list_link(actor=users[role], agency_list=setup["list"])
    agency_list_link(actor=setup["actor"], agency_list=setup["list"])
    with pytest.raises(PermissionDenied):
        review_pair_decide(actor=users[role], pair=ReviewPair.objects.get(), decision="same")
    assert ReviewPair.objects.get().decision == ""


def test_a_list_still_being_read_cannot_be_linked(setup):
    AgencyList.objects.filter(pk=setup["list"].pk).update(status="running")
    setup["list"].refresh_from_db()
    with pytest.raises(ValidationFailed):
        agency_list_link(actor=setup["actor"], agency_list=setup["list"])
