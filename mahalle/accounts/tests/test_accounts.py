import pytest

from mahalle.accounts.models import ApiToken, Role, User
from mahalle.accounts.selectors import personal_data_paths, user_for_token
from mahalle.accounts.services import api_token_create, user_create
from mahalle.audit.models import AuditEvent
from mahalle.core.errors import ValidationFailed


def test_passwords_are_hashed_with_argon2(settings, tree):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    user = user_create(
        actor=None,
        username="volunteer1",
        password="a-long-enough-passphrase",
        role=Role.FIELD_VOLUNTEER,
        org_units=[tree["post_a1"]],
    )
    assert user.password.startswith("argon2$")
    assert user.check_password("a-long-enough-passphrase")


def test_user_create_reports_every_problem_and_creates_nothing(tree, users):
    before = User.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        user_create(actor=None, username="field_volunteer", password="short", role="mayor", org_units=[])
    fields = {e["field"] for e in exc.value.errors}
    assert fields == {"role", "org_units", "username", "password"}
    assert User.objects.count() == before


def test_token_is_stored_hashed_and_authenticates(users):
    admin, volunteer = users[Role.ADMINISTRATOR], users[Role.FIELD_VOLUNTEER]
    token, secret = api_token_create(actor=admin, user=volunteer, name="phone")
    assert secret not in token.key_hash and token.key_hash == ApiToken.hash(secret)
    assert user_for_token(secret=secret) == volunteer
    assert AuditEvent.objects.filter(object_type="accounts.apitoken", object_id=str(token.pk)).count() == 1


def test_revoked_token_and_inactive_user_do_not_authenticate(users):
    from django.utils import timezone

    volunteer = users[Role.FIELD_VOLUNTEER]
    token, secret = api_token_create(actor=volunteer, user=volunteer, name="phone")
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert user_for_token(secret=secret) is None
    _, secret2 = api_token_create(actor=volunteer, user=volunteer, name="phone2")
    User.objects.filter(pk=volunteer.pk).update(is_active=False)
    assert user_for_token(secret=secret2) is None
    assert user_for_token(secret="mhl_not-a-real-token") is None


def test_nested_units_collapse_and_analyst_has_no_personal_paths(tree, users):
    coordinator = users[Role.COUNTY_COORDINATOR]
    coordinator.org_units.add(tree["post_a1"], tree["province_b"])
    fresh = User.objects.get(pk=coordinator.pk)
    assert personal_data_paths(user=fresh) == [tree["county_a"].path, tree["province_b"].path]
    assert personal_data_paths(user=users[Role.ANALYST]) == []
