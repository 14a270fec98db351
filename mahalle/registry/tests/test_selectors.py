import pytest

from mahalle.accounts.models import Role
from mahalle.audit.models import AuditEvent
from mahalle.core.errors import NotFound
from mahalle.registry.selectors import person_detail, person_search, persons_visible

# Which posts' people each role (placed as in accounts.tests.factories.ROLE_HOME) may see.
EXPECTED = {
    Role.FIELD_VOLUNTEER: {"post_a1"},
    Role.POST_SUPERVISOR: {"post_a1"},
    Role.COUNTY_COORDINATOR: {"post_a1", "post_a2"},
    Role.PROVINCE_COORDINATOR: {"post_a1", "post_a2"},
    Role.NATIONAL_COORDINATOR: {"post_a1", "post_a2", "post_b1", "post_b2"},
    Role.PARTNER_STAFF: {"post_a1", "post_a2"},
    Role.ANALYST: set(),
    Role.ADMINISTRATOR: {"post_a1", "post_a2", "post_b1", "post_b2"},
}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_sees_exactly_its_subtree(role, users, people):
    visible = set(persons_visible(user=users[role]).values_list("pk", flat=True))
    assert visible == {people[key].pk for key in EXPECTED[role]}


def test_detail_outside_jurisdiction_is_not_found_and_not_audited(users, people):
    volunteer = users[Role.FIELD_VOLUNTEER]
    before = AuditEvent.objects.count()
    with pytest.raises(NotFound):
        person_detail(user=volunteer, person_id=people["post_a2"].pk)
    assert AuditEvent.objects.count() == before


def test_detail_read_is_audited(users, people):
    volunteer = users[Role.FIELD_VOLUNTEER]
    person = person_detail(user=volunteer, person_id=people["post_a1"].pk)
    event = AuditEvent.objects.get(action="read", object_id=str(person.pk))
    assert (event.actor, event.org_path, event.object_type) == (volunteer, person.org_path, "registry.person")


def test_search_by_national_code_in_persian_digits(users, people):
    person = people["post_a1"]
    persian = person.national_code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert list(person_search(user=users[Role.FIELD_VOLUNTEER], query=persian)) == [person]


def test_search_by_mobile_any_format(users, people):
    person = people["post_a1"]
    assert list(person_search(user=users[Role.FIELD_VOLUNTEER], query="+98" + person.mobile[1:])) == [person]


def test_search_by_name_tolerates_arabic_yeh_and_spacing(users, people):
    person = people["post_a1"]
    query = f"محمد {person.last_name}".replace("ی", "ي")
    assert list(person_search(user=users[Role.FIELD_VOLUNTEER], query=query)) == [person]


def test_search_never_crosses_jurisdiction(users, people):
    other = people["post_b1"]
    assert list(person_search(user=users[Role.PROVINCE_COORDINATOR], national_code=other.national_code)) == []
