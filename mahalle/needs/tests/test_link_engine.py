"""The linkage service with the real engine (needs.linkage, splink on DuckDB), end to end."""

import datetime as dt

from mahalle.accounts.models import Role
from mahalle.core.identifiers import national_code_with_check_digit
from mahalle.needs.jobs import agency_list_link
from mahalle.needs.models import SourceRecord
from mahalle.needs.selectors import candidate_scope, registry_frame
from mahalle.registry.models import Person

from .factories import AgencyFactory, AgencyListFactory, SourceRecordFactory


def test_a_list_is_linked_with_the_real_engine(tree, users, people):
    person = people["post_a1"]
    Person.objects.filter(pk=person.pk).update(
        first_name="محمدرضا",
        last_name="کریمی",
        father_name="علی",
        birth_date=dt.date(1980, 3, 21),
        mobile="09121112233",
    )
    person.refresh_from_db()
    agency_list = AgencyListFactory(agency=AgencyFactory(code="relief"), org_unit=tree["post_a1"])
    same = SourceRecordFactory(
        agency_list=agency_list,
        record_id="S1",
        national_code=person.national_code,
        national_code_valid=True,
        first_name="محمد رضا",
        last_name="كريمي",
        father_name="علي",
        birth_date=dt.date(1980, 3, 21),
        mobile="09121112233",
        sex="M",
    )
    new = SourceRecordFactory(
        agency_list=agency_list,
        record_id="S2",
        national_code=national_code_with_check_digit("555444333"),
        national_code_valid=True,
        first_name="سمیه",
        last_name="اکبری",
        father_name="رضا",
        birth_date=dt.date(1992, 7, 1),
        mobile="09390001122",
        sex="F",
    )
    frame = registry_frame(candidate_scope(agency_list.org_unit))
    assert sorted(frame["record_id"]) == sorted([str(people["post_a1"].pk), str(people["post_a2"].pk)])
    counts = agency_list_link(actor=users[Role.COUNTY_COORDINATOR], agency_list=agency_list)
    assert (counts["auto"], counts["new"], counts["review"]) == (1, 1, 0)
    same.refresh_from_db()
    new.refresh_from_db()
    assert (same.person, same.link_status) == (person, "auto")
    assert same.match_probability >= 0.99
    assert (new.link_status, new.person.national_code, new.person.org_unit) == (
        "new",
        new.national_code,
        tree["post_a1"],
    )
    # a second run has nothing left to do
    again = agency_list_link(actor=users[Role.COUNTY_COORDINATOR], agency_list=agency_list)
    assert again["records"] == 0
    assert SourceRecord.objects.filter(person__isnull=True).count() == 0


def test_a_list_without_father_names_links_too(tree, users, people):
    """An agency list often has no father_name column: every record's father_name is empty."""
    person = people["post_a1"]
    agency_list = AgencyListFactory(agency=AgencyFactory(code="relief"), org_unit=tree["post_a1"])
    record = SourceRecordFactory(
        agency_list=agency_list,
        record_id="S1",
        national_code=person.national_code,
        national_code_valid=True,
        first_name=person.first_name,
        last_name=person.last_name,
        father_name="",
        birth_date=person.birth_date,
        mobile=person.mobile,
        sex=person.sex,
    )
    counts = agency_list_link(actor=users[Role.COUNTY_COORDINATOR], agency_list=agency_list)
    record.refresh_from_db()
    assert (counts["auto"], record.person, record.link_status) == (1, person, "auto")
