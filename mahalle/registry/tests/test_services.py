import pytest

from mahalle.accounts.models import Role
from mahalle.audit.models import AuditEvent
from mahalle.core.errors import PermissionDenied, ValidationFailed
from mahalle.core.identifiers import national_code_with_check_digit
from mahalle.registry.models import Household, Person, Relation
from mahalle.registry.services import (
    household_create,
    households_create_many,
    person_create,
    person_update,
    persons_create_many,
)

CODE = national_code_with_check_digit("004455667")


def test_volunteer_registers_a_person_normalised_and_audited(tree, users):
    volunteer = users[Role.FIELD_VOLUNTEER]
    household = household_create(
        actor=volunteer, org_unit=tree["post_a1"], address="كوچه  ياس", phone="+98 912 000 1122"
    )
    person = person_create(
        actor=volunteer,
        org_unit=tree["post_a1"],
        household=household,
        data={
            "first_name": "علي  رضا",
            "last_name": "كريمي",
            "national_code": "۰۰۴-۴۵۵۶۶۷-" + CODE[-1],
            "mobile": "0098 912 111 2233",
            "sex": "مرد",
            "birth_date": "۱۳۶۰/۰۵/۱۰",
            "relation_to_head": "head",
        },
    )
    person.refresh_from_db()
    household.refresh_from_db()
    assert (person.first_name, person.last_name, person.national_code, person.mobile, person.sex) == (
        "علی رضا",
        "کریمی",
        CODE,
        "09121112233",
        "M",
    )
    assert str(person.birth_date) == "1981-08-01"
    assert household.address == "کوچه یاس" and household.phone == "09120001122" and household.head == person
    assert person.org_path == tree["post_a1"].path
    assert AuditEvent.objects.filter(action="create", object_id=str(person.pk)).count() == 1


def test_write_outside_jurisdiction_is_refused_and_nothing_is_stored(tree, users):
    with pytest.raises(PermissionDenied):
        person_create(
            actor=users[Role.FIELD_VOLUNTEER],
            org_unit=tree["post_b1"],
            data={"first_name": "a", "last_name": "b"},
        )
    with pytest.raises(PermissionDenied):
        person_create(
            actor=users[Role.ANALYST], org_unit=tree["post_a1"], data={"first_name": "a", "last_name": "b"}
        )
    assert Person.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_every_bad_field_is_reported_at_once(tree, users):
    with pytest.raises(ValidationFailed) as exc:
        person_create(
            actor=users[Role.FIELD_VOLUNTEER],
            org_unit=tree["post_a1"],
            data={
                "first_name": "<script>alert(1)</script>",
                "last_name": "",
                "national_code": "1234567890",
                "mobile": "12",
                "sex": "X",
                "birth_date": "2999-01-01",
            },
        )
    assert {e["field"] for e in exc.value.errors} == {
        "first_name",
        "last_name",
        "national_code",
        "mobile",
        "sex",
        "birth_date",
    }
    assert Person.objects.count() == 0


def test_sql_in_a_name_is_just_text(tree, users):
    person = person_create(
        actor=users[Role.FIELD_VOLUNTEER],
        org_unit=tree["post_a1"],
        data={"first_name": "Robert'); DROP TABLE registry_person;--", "last_name": "x"},
    )
    assert Person.objects.get(pk=person.pk).first_name == "Robert'); DROP TABLE registry_person;--"


def test_duplicate_national_code_is_refused(tree, users, people):
    with pytest.raises(ValidationFailed, match="could not be saved"):
        person_create(
            actor=users[Role.FIELD_VOLUNTEER],
            org_unit=tree["post_a1"],
            data={"first_name": "a", "last_name": "b", "national_code": people["post_a2"].national_code},
        )


def test_records_hang_off_posts_only(tree, users):
    with pytest.raises(ValidationFailed):
        person_create(
            actor=users[Role.COUNTY_COORDINATOR],
            org_unit=tree["county_a"],
            data={"first_name": "a", "last_name": "b"},
        )


def test_update_keeps_keys_in_step_and_audits_the_change(users, people):
    person = people["post_a1"]
    person_update(actor=users[Role.POST_SUPERVISOR], person=person, data={"last_name": "احمدي"})
    person.refresh_from_db()
    assert person.last_name == "احمدی" and person.last_name_key == "احمدی"
    event = AuditEvent.objects.get(action="update", object_id=str(person.pk))
    assert event.details["changed"]["last_name"][1] == "احمدی"


def _new_person(unit, household, relation, n):
    return Person(
        org_unit=unit,
        org_path=unit.path,
        household=household,
        relation_to_head=relation,
        first_name="زهرا",
        last_name=f"کریمی{n}",
        last_name_key=f"کریمی{n}",
    )


def test_persons_created_in_bulk_say_who_created_them_from_which_list(tree, users):
    """The audit policy of the one creation path: one create event per record, carrying its source."""
    coordinator, unit = users[Role.COUNTY_COORDINATOR], tree["post_a2"]
    homes = [Household(org_unit=unit, org_path=unit.path) for _ in range(2)]
    assert households_create_many(actor=coordinator, source={"agency_list": 7}, households=homes) == 2
    persons = [
        _new_person(unit, homes[0], Relation.HEAD, 1),
        _new_person(unit, homes[0], Relation.HEAD, 2),  # the first head wins
        _new_person(unit, homes[1], Relation.CHILD, 3),
    ]
    assert persons_create_many(actor=coordinator, source={"agency_list": 7}, persons=persons) == 3
    assert [Household.objects.get(pk=h.pk).head_id for h in homes] == [persons[0].pk, None]
    for person in persons:
        event = AuditEvent.objects.get(
            object_type="registry.person", object_id=str(person.pk), action="create"
        )
        assert (event.actor, event.details, event.org_path) == (
            coordinator,
            {"source": {"agency_list": 7}},
            unit.path,
        )
    assert AuditEvent.objects.filter(object_type="registry.household", action="create").count() == 2


def test_person_create_audits_its_source(tree, users):
    person = person_create(
        actor=users[Role.FIELD_VOLUNTEER],
        org_unit=tree["post_a1"],
        data={"first_name": "a", "last_name": "b"},
    )
    event = AuditEvent.objects.get(object_type="registry.person", object_id=str(person.pk), action="create")
    assert (event.details, event.org_unit) == ({"source": {"entry": "form"}}, tree["post_a1"])


def test_bulk_creation_checks_every_org_unit_and_writes_nothing_when_refused(tree, users):
    persons = [_new_person(tree["post_a1"], None, "", 1), _new_person(tree["post_b1"], None, "", 2)]
    with pytest.raises(PermissionDenied):
        persons_create_many(
            actor=users[Role.PROVINCE_COORDINATOR], source={"agency_list": 1}, persons=persons
        )
    with pytest.raises(ValidationFailed):
        persons_create_many(
            actor=None, source={"import_job": 1}, persons=[_new_person(tree["county_a"], None, "", 3)]
        )
    assert Person.objects.count() == 0 and AuditEvent.objects.count() == 0
