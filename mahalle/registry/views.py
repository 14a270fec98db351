"""Registry pages: person search, person and household detail, person create/edit. Thin: selectors read,
services write; a record outside the user's jurisdiction is a 404 page (a selector's NotFound, turned into the 404
page by web.middleware.DomainErrorMiddleware, as a service's PermissionDenied into the 403 page)."""

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from mahalle.accounts.capabilities import Can, may
from mahalle.accounts.gates import personal_data_required
from mahalle.accounts.selectors import user_jurisdiction_units
from mahalle.core import errors
from mahalle.core.pages import Pages
from mahalle.geo.models import OrgUnit
from mahalle.geo.selectors import posts_within

from . import selectors, services
from .forms import PersonForm

pages = Pages("registry")
SEARCH_LIMIT = 50


def _require_write_role(user) -> None:
    if not may(user, Can.WRITE_PERSONAL):
        raise PermissionDenied


def _is_htmx_partial(request) -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


@pages.get("persons/", name="person_search")
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
        "can_write": may(request.user, Can.WRITE_PERSONAL),
    }
    template = "registry/_person_results.html" if _is_htmx_partial(request) else "registry/person_search.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@pages.get("persons/<uuid:person_id>/", name="person_detail")
@personal_data_required
def person_detail(request, person_id):
    person = selectors.person_detail(user=request.user, person_id=person_id)
    members = list(selectors.household_members(household=person.household)) if person.household_id else []
    return render(
        request,
        "registry/person_detail.html",
        {"person": person, "members": members, "can_write": may(request.user, Can.WRITE_PERSONAL)},
    )


@pages.get("households/<uuid:household_id>/", name="household_detail")
@personal_data_required
def household_detail(request, household_id):
    household = selectors.household_detail(user=request.user, household_id=household_id)
    return render(
        request,
        "registry/household_detail.html",
        {
            "household": household,
            "members": list(selectors.household_members(household=household)),
            "can_write": may(request.user, Can.WRITE_PERSONAL),
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
    return selectors.access_household(request.user, household_id)


def _person_form_page(request, form, save, *, saved: str, household, person):
    """The person form: on a valid POST, `save(data)` (a service returning the person) and on to the person's
    page; else the form again, with the service's field errors (422 after a POST)."""
    if request.method == "POST" and form.is_valid():
        try:
            saved_person = save(form.service_data())
        except errors.ValidationFailed as exc:
            form.add_service_errors(exc.errors)
        else:
            messages.success(request, saved)
            return redirect("registry:person_detail", person_id=saved_person.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "registry/person_form.html",
        {"form": form, "household": household, "person": person},
        status=status,
    )


@pages.route("persons/new/", name="person_create")
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

    def save(data):
        org_unit = household.org_unit if household is not None else form.cleaned_data["post"]
        return services.person_create(actor=request.user, org_unit=org_unit, data=data, household=household)

    return _person_form_page(
        request, form, save, saved=_("The person was registered."), household=household, person=None
    )


@pages.route("persons/<uuid:person_id>/edit/", name="person_edit")
@personal_data_required
def person_edit(request, person_id):
    _require_write_role(request.user)
    person = selectors.person_detail(user=request.user, person_id=person_id)
    persian = (get_language() or "fa").startswith("fa")
    form = PersonForm(request.POST or None, initial=PersonForm.initial_for(person, persian=persian))

    def save(data):
        return services.person_update(actor=request.user, person=person, data=data)

    return _person_form_page(
        request, form, save, saved=_("The changes were saved."), household=person.household, person=person
    )
