"""Accounts API: who am I, and API tokens.

Tokens: any signed-in user may create one for themselves; an administrator may also create one for another
user whose every org unit lies inside the administrator's subtree. Anyone else naming another user gets 403;
an administrator naming a user outside their subtree (or no such user) gets 404.
"""

from ninja import Router
from ninja.responses import Status

from mahalle.core.errors import NotFound, PermissionDenied

from . import selectors, services
from .capabilities import Can, may
from .models import User
from .schemas import MeOut, TokenIn, TokenOut

router = Router(tags=["accounts"])


@router.get("/me", response=MeOut, summary="The signed-in user: role and org units")
def me(request):
    user = request.user
    return {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role,
        "can_read_personal_data": user.can_read_personal_data,
        "units": sorted(user.org_units.all(), key=lambda unit: unit.path),
    }


def _token_owner(actor: User, username: str) -> User:
    if not username or username == actor.username:
        return actor
    if not may(actor, Can.MANAGE_USERS):
        raise PermissionDenied("only administrators may create tokens for other users")
    owner = User.objects.filter(username=username, is_active=True).prefetch_related("org_units").first()
    units = list(owner.org_units.all()) if owner is not None else []
    if not units or not all(selectors.org_unit_in_jurisdiction(user=actor, unit=unit) for unit in units):
        raise NotFound("user not found")
    return owner


@router.post("/tokens", response={201: TokenOut}, summary="Create an API token (the secret is shown once)")
def token_create(request, payload: TokenIn):
    owner = _token_owner(request.user, payload.username.strip())
    token, secret = services.api_token_create(actor=request.user, user=owner, name=payload.name.strip())
    return Status(
        201,
        {
            "id": token.pk,
            "name": token.name,
            "prefix": token.prefix,
            "username": owner.username,
            "created_at": token.created_at,
            "secret": secret,
        },
    )
