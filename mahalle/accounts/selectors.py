"""Who may see what. The one place that turns a user into the set of subtrees they may read."""

from django.utils import timezone

from mahalle.core.errors import PermissionDenied
from mahalle.geo.models import OrgUnit

from .models import ApiToken, User


def user_jurisdiction_units(*, user: User) -> list[OrgUnit]:
    """The user's org units, without units already inside another of their units."""
    if not user.is_authenticated or not user.is_active:
        return []
    cached = getattr(user, "_jurisdiction_units", None)
    if cached is None:
        units = sorted(user.org_units.all(), key=lambda u: u.path)
        cached = []
        for unit in units:
            if not path_within(unit.path, [kept.path for kept in cached]):
                cached.append(unit)
        user._jurisdiction_units = cached
    return cached


def personal_data_paths(*, user: User) -> list[str]:
    """Paths whose subtrees hold the personal records this user may read; empty for aggregate-only roles."""
    if not user.is_authenticated or not user.can_read_personal_data:
        return []
    return [unit.path for unit in user_jurisdiction_units(user=user)]


def path_within(org_path: str, paths) -> bool:
    """The one prefix test: a record at `org_path` lies in one of the subtrees `paths` (materialized paths)."""
    return any(org_path.startswith(path) for path in paths)


def personal_record_visible(*, user: User, org_path: str) -> bool:
    """Whether this user may read a personal record kept at `org_path`."""
    return path_within(org_path, personal_data_paths(user=user))


def require_personal_data(*, user: User) -> None:
    """Refuse (403) a role without personal data (the analyst) before any personal record is looked up."""
    if not user.can_read_personal_data:
        raise PermissionDenied("your role does not give access to personal records")


def org_unit_in_jurisdiction(*, user: User, unit: OrgUnit) -> bool:
    return path_within(unit.path, [unit_.path for unit_ in user_jurisdiction_units(user=user)])


def user_for_token(*, secret: str) -> User | None:
    if not secret or not secret.startswith(ApiToken.PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=ApiToken.hash(secret), revoked_at=None)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
