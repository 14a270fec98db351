import pytest
from django.db import DatabaseError, connection, transaction

from mahalle.accounts.models import Role
from mahalle.audit.models import AuditEvent
from mahalle.audit.selectors import audit_events_search
from mahalle.audit.services import audit_record


def test_saved_event_cannot_be_changed_or_deleted_through_the_model(users, people):
    event = audit_record(actor=users[Role.FIELD_VOLUNTEER], action="read", obj=people["post_a1"])
    event.action = "delete"
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "read"


def test_database_refuses_update_of_an_event(users, people):
    event = audit_record(actor=users[Role.FIELD_VOLUNTEER], action="read", obj=people["post_a1"])
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="delete")
    assert AuditEvent.objects.get(pk=event.pk).action == "read"


@pytest.mark.postgres_only
def test_postgres_refuses_delete_of_an_event(users, people):
    event = audit_record(actor=users[Role.FIELD_VOLUNTEER], action="read", obj=people["post_a1"])
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_event_records_who_what_where(users, people):
    volunteer, person = users[Role.FIELD_VOLUNTEER], people["post_a1"]
    event = audit_record(actor=volunteer, action="read", obj=person)
    assert (event.actor_username, event.object_type, event.object_id, event.org_unit_id, event.org_path) == (
        "field_volunteer",
        "registry.person",
        str(person.pk),
        person.org_unit_id,
        person.org_path,
    )


@pytest.mark.parametrize(
    "role,visible",
    [
        (Role.COUNTY_COORDINATOR, {"post_a1"}),
        (Role.NATIONAL_COORDINATOR, {"post_a1", "post_b1"}),
        (Role.FIELD_VOLUNTEER, set()),
        (Role.ANALYST, set()),
        (Role.PARTNER_STAFF, set()),
    ],
)
def test_search_is_limited_to_audit_roles_and_their_subtree(role, visible, users, people):
    for key in ("post_a1", "post_b1"):
        audit_record(actor=users[Role.FIELD_VOLUNTEER], action="read", obj=people[key])
    found = {event.object_id for event in audit_events_search(user=users[role], action="read")}
    assert found == {str(people[key].pk) for key in visible}
