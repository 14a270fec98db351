"""The personal-data gate, declared once per API router and once per page rather than called in each endpoint.

A role without personal-data access (the analyst) is refused with 403 before any personal record is looked up;
jurisdiction (404 outside the user's subtree) is the selectors' job after that.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from ninja import Router

from .selectors import require_personal_data


def personal_data_gate(view_func):
    """django-ninja operation decorator: runs after authentication and parsing, before the endpoint."""

    @wraps(view_func)
    def gated(request, *args, **kwargs):
        require_personal_data(user=request.user)
        return view_func(request, *args, **kwargs)

    return gated


def personal_data_router(**kwargs) -> Router:
    """A Router whose every operation passes the personal-data gate (`Router.add_decorator`)."""
    router = Router(**kwargs)
    router.add_decorator(personal_data_gate)
    router.personal_data_gated = True  # read by the conventions test
    return router


def personal_data_required(view):
    """Pages: signed in, and a role that may read personal records (the analyst may not: 403)."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.can_read_personal_data:
            raise DjangoPermissionDenied
        return view(request, *args, **kwargs)

    wrapper.personal_data_gated = True
    return wrapper
