from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError

from mahalle.audit.services import audit_record
from mahalle.core.errors import ValidationFailed, field_error
from mahalle.core.service import service
from mahalle.geo.models import OrgUnit

from .models import ApiToken, Role, User


@service
def user_create(
    *,
    actor: User | None,
    username: str,
    password: str,
    role: str,
    org_units: list[OrgUnit],
    first_name: str = "",
    last_name: str = "",
    check_password: bool = True,
) -> User:
    errors = []
    if role not in Role.values:
        errors.append(field_error("role", f"unknown role '{role}'"))
    if not org_units:
        errors.append(field_error("org_units", "a user needs at least one org unit"))
    if User.objects.filter(username=username).exists():
        errors.append(field_error("username", "this username is taken"))
    if check_password:
        try:
            validate_password(password)
        except DjangoValidationError as exc:
            errors.extend(field_error("password", m) for m in exc.messages)
    if errors:
        raise ValidationFailed("the user could not be created", errors)
    user = User(
        username=username,
        role=role,
        first_name=first_name,
        last_name=last_name,
        is_staff=role == Role.ADMINISTRATOR,
        is_superuser=False,
    )
    user.set_password(password)
    user.save()
    user.org_units.set(org_units)
    audit_record(
        actor=actor,
        action="create",
        obj=user,
        org_unit=org_units[0],
        details={"username": username, "role": role, "org_units": [u.code for u in org_units]},
    )
    return user


@service
def api_token_create(*, actor: User, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns (token, secret). The secret is not stored and cannot be shown again."""
    secret = ApiToken.new_secret()
    token = ApiToken.objects.create(user=user, name=name, prefix=secret[:12], key_hash=ApiToken.hash(secret))
    audit_record(actor=actor, action="create", obj=token, org_unit=user.org_units.order_by("path").first(),
                 details={"user": user.username, "name": name})
    return token, secret
