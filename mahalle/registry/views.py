"""Registry pages: person search, person and household detail, person create/edit. Thin: selectors read,
services write; a record outside the user's jurisdiction is a 404 page."""

import uuid
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from mahalle.accounts.models import PERSONAL_DATA_WRITE_ROLES
from mahalle.accounts.selectors import user_jurisdiction_units
from mahalle.core import errors
from mahalle.geo.models import OrgUnit
from mahalle.geo.selectors import posts_within

from . import selectors, services
from .forms import PersonForm

SEARCH_LIMIT = 50


def personal_data_required(view):
    """Signed in, and a role that may read personal records (the analyst may not: 403)."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.can_read_personal_data:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _require_write_role(user) -> None:
    if not user.has_role(PERSONAL_DATA_WRITE_ROLES):
        raise PermissionDenied


def _is_htmx_partial(request) -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


@require_safe
@personal_data_required
def person_search(request):
    query = request.GET.get("q", "").strip()[:100]
    persons = (
        list(selectors.person_search(user=request.user, query=query, limit=SEARCH_LIMIT)) if query else []
    )
    context = {
        "q": query,
        "persons": persons,
        "limit_reached": len(persons) >= SEARCH_LIMIT,
        "can_write": request.user.has_role(PERSONAL_DATA_WRITE_ROLES),
    }
    template = "registry/_person_results.html" if _is_htmx_partial(request) else "registry/person_search.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _person_or_404(user, person_id):
    try:
        return selectors.person_detail(user=user, person_id=person_id)
    except errors.NotFound as exc:
        raise Http404(exc.detail) from exc


@require_safe
@personal_data_required
def person_detail(request, person_id):
    person = _person_or_404(request.user, person_id)
    members = list(selectors.household_members(household=person.household)) if person.household_id else []
    return render(
        request,
        "registry/person_detail.html",
        {
            "person": person,
            "members": members,
            "can_write": request.user.has_role(PERSONAL_DATA_WRITE_ROLES),
        },
    )


@require_safe
@personal_data_required
def household_detail(request, household_id):
    try:
        household = selectors.household_detail(user=request.user, household_id=household_id)
    except errors.NotFound as exc:
        raise Http404(exc.detail) from exc
    return render(
        request,
        "registry/household_detail.html",
        {
            "household": household,
            "members": list(selectors.household_members(household=household)),
            "can_write": request.user.has_role(PERSONAL_DATA_WRITE_ROLES),
        },
    )


def _posts_in_jurisdiction(user):
    posts = OrgUnit.objects.none()
    for unit in user_jurisdiction_units(user=user):
        posts = posts | posts_within(unit=unit)
    return posts.order_by("path")


def _household_from_query(request):
    raw = request.GET.get("household") or request.POST.get("household") or ""
    if not raw:
        return None
    try:
        household_id = uuid.UUID(raw)
    except ValueError as exc:
        raise Http404("household not found") from exc
    household = (
        selectors.households_visible(user=request.user)
        .select_related("org_unit")
        .filter(pk=household_id)
        .first()
    )
    if household is None:
        raise Http404("household not found")
    return household


@personal_data_required
def person_create(request):
    _require_write_role(request.user)
    household = _household_from_query(request)
    posts = None if household is not None else _posts_in_jurisdiction(request.user)
    form = PersonForm(request.POST or None, posts=posts)
    if posts is not None and not request.POST:
        only = list(posts[:2])
        if len(only) == 1:  # a volunteer's single post needs no choosing
            form.initial["post"] = only[0].pk
    if request.method == "POST" and form.is_valid():
        org_unit = household.org_unit if household is not None else form.cleaned_data["post"]
        try:
            person = services.person_create(
                actor=request.user, org_unit=org_unit, data=form.service_data(), household=household
            )
        except errors.ValidationFailed as exc:
            form.add_service_errors(exc.errors)
        except errors.PermissionDenied as exc:
            raise PermissionDenied(exc.detail) from exc
        else:
            messages.success(request, _("The person was registered."))
            return redirect("registry:person_detail", person_id=person.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "registry/person_form.html",
        {"form": form, "household": household, "person": None},
        status=status,
    )


@personal_data_required
def person_edit(request, person_id):
    _require_write_role(request.user)
    person = _person_or_404(request.user, person_id)
    persian = (get_language() or "fa").startswith("fa")
    form = PersonForm(request.POST or None, initial=PersonForm.initial_for(person, persian=persian))
    if request.method == "POST" and form.is_valid():
        try:
            services.person_update(actor=request.user, person=person, data=form.service_data())
        except errors.ValidationFailed as exc:
            form.add_service_errors(exc.errors)
        except errors.PermissionDenied as exc:
            raise PermissionDenied(exc.detail) from exc
        else:
            messages.success(request, _("The changes were saved."))
            return redirect("registry:person_detail", person_id=person.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "registry/person_form.html",
        {"form": form, "household": person.household, "person": person},
        status=status,
    )
