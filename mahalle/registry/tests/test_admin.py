from mahalle.accounts.models import Role
from mahalle.accounts.tests.factories import UserFactory
from mahalle.audit.models import AuditEvent


def _county_admin(tree):
    return UserFactory(
        role=Role.ADMINISTRATOR, username="county_admin", is_staff=True, units=[tree["county_a"]]
    )


def test_admin_changelist_shows_only_the_staff_users_subtree(client, tree, people):
    client.force_login(_county_admin(tree))
    page = client.get("/admin/registry/person/")
    assert page.status_code == 200
    body = page.content.decode()
    assert people["post_a1"].national_code in body and people["post_a2"].national_code in body
    assert people["post_b1"].national_code not in body and people["post_b2"].national_code not in body


def test_admin_detail_outside_subtree_is_not_shown_and_inside_is_audited(client, tree, people):
    admin_user = _county_admin(tree)
    client.force_login(admin_user)
    outside = client.get(f"/admin/registry/person/{people['post_b1'].pk}/change/")
    assert outside.status_code == 302 and people["post_b1"].national_code not in outside.content.decode()
    inside = client.get(f"/admin/registry/person/{people['post_a1'].pk}/change/")
    assert inside.status_code == 200
    assert (
        AuditEvent.objects.filter(
            actor=admin_user, action="read", object_id=str(people["post_a1"].pk)
        ).count()
        == 1
    )
    assert not AuditEvent.objects.filter(object_id=str(people["post_b1"].pk)).exists()


def test_admin_cannot_edit_or_delete_audit_events(client, tree, people):
    client.force_login(_county_admin(tree))
    assert client.get("/admin/audit/auditevent/add/").status_code == 403


def test_non_staff_roles_have_no_admin(client, users, people):
    client.force_login(users[Role.PROVINCE_COORDINATOR])
    assert client.get("/admin/registry/person/").status_code == 302
