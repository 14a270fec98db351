"""Pages of the tracing area (thin: parse, call a selector or service, render).

A tracer's phone: the work list (index), a case's contacts (list, add, confirm, remove), a contact's daily
follow-up. A supervisor's and coordinator's screen: the chain view of a case's cluster, and the clusters of
their area with statistics. A record the user may not see is a 404 page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from mahalle.accounts.selectors import user_jurisdiction_units
from mahalle.cases.selectors import cases_visible
from mahalle.core import errors
from mahalle.registry.views import personal_data_required

from . import layout, selectors, services
from .forms import ContactAddForm, ContactFollowUpForm, RemoveForm

LIST_LIMIT = 100
DRAW_LIMIT = 400  # larger clusters are shown as a list: a drawing of thousands of nodes helps nobody


def _case_or_404(user, case_id):
    case = cases_visible(user=user).select_related("person", "org_unit").filter(pk=case_id).first()
    if case is None:
        raise Http404("case not found")
    return case


def _contact_or_404(user, contact_id):
    try:
        return selectors.contact_detail(user=user, contact_id=contact_id)
    except errors.NotFound as exc:
        raise Http404("contact not found") from exc


@require_safe
@personal_data_required
def index(request):
    """The tracer's work list for today: contacts to call, unreachable two days running, follow-up ending,
    household members to confirm. `?mine=1`: only the contacts assigned to me."""
    user = request.user
    today = timezone.localdate()
    mine = request.GET.get("mine") == "1"
    context = {
        "today": today,
        "mine": mine,
        "to_call": list(selectors.contacts_to_call(user=user, on=today, mine=mine)[:LIST_LIMIT]),
        "unreachable": list(selectors.contacts_unreachable(user=user, on=today, mine=mine)[:LIST_LIMIT]),
        "ending": list(selectors.contacts_ending(user=user, on=today, mine=mine)[:LIST_LIMIT]),
        "to_confirm": list(selectors.contacts_to_confirm(user=user, mine=mine)[:LIST_LIMIT]),
    }
    return render(request, "tracing/index.html", context)


def _case_contacts_page(request, case, *, form=None, status=200):
    user = request.user
    contacts = list(selectors.contacts_of_case(user=user, case=case))
    return render(
        request,
        "tracing/case_contacts.html",
        {
            "case": case,
            "contacts": contacts,
            "form": form
            if form is not None
            else ContactAddForm(initial={"last_exposure": timezone.localdate()}),
            "remove_form": RemoveForm(),
            "can_write": user.has_role(services.TRACING_ROLES),
        },
        status=status,
    )


@personal_data_required
def case_contacts(request, case_id):
    """A case's contacts on a phone: the list, the add form (national code, mobile or name)."""
    user = request.user
    case = _case_or_404(user, case_id)
    if request.method != "POST":
        return _case_contacts_page(request, case)
    if not user.has_role(services.TRACING_ROLES):
        raise PermissionDenied
    form = ContactAddForm(request.POST)
    if not form.is_valid():
        return _case_contacts_page(request, case, form=form, status=422)
    try:
        services.contact_add(
            actor=user,
            case=case,
            **{**form.cleaned_data, "closeness": form.cleaned_data["closeness"] or "close"},
        )
    except errors.DomainError as exc:
        for error in exc.errors:
            field = error["field"] if error["field"] in form.fields else None
            form.add_error(field, error["message"])
        if not exc.errors:
            form.add_error(None, exc.detail)
        return _case_contacts_page(request, case, form=form, status=exc.status_code)
    messages.success(request, _("Contact added."))
    return redirect("tracing:case_contacts", case_id=case.pk)


def _back(request):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("tracing:index")


def _run(request, write, success: str) -> None:
    try:
        write()
    except errors.DomainError as exc:
        messages.error(request, exc.summary())
    else:
        messages.success(request, success)


@require_POST
@personal_data_required
def case_household(request, case_id):
    user = request.user
    case = _case_or_404(user, case_id)
    if not user.has_role(services.TRACING_ROLES):
        raise PermissionDenied
    _run(
        request,
        lambda: services.contacts_list_household(actor=user, case=case),
        _("Household members listed."),
    )
    return redirect("tracing:case_contacts", case_id=case.pk)


@require_POST
@personal_data_required
def contact_confirm(request, contact_id):
    user = request.user
    contact = _contact_or_404(user, contact_id)
    if not user.has_role(services.TRACING_ROLES):
        raise PermissionDenied
    _run(request, lambda: services.contact_confirm(actor=user, contact=contact), _("Contact confirmed."))
    return _back(request)


@require_POST
@personal_data_required
def contact_remove(request, contact_id):
    user = request.user
    contact = _contact_or_404(user, contact_id)
    if not user.has_role(services.TRACING_ROLES):
        raise PermissionDenied
    reason = request.POST.get("reason", "")
    _run(
        request,
        lambda: services.contact_remove(actor=user, contact=contact, reason=reason),
        _("Contact removed."),
    )
    return _back(request)


@personal_data_required
def contact_follow_up(request, contact_id):
    """Today's call to a contact, on a phone."""
    user = request.user
    if not user.has_role(services.TRACING_ROLES):
        raise PermissionDenied
    today = timezone.localdate()
    contact = _contact_or_404(user, contact_id)
    form = ContactFollowUpForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            result = services.contact_follow_ups_record(
                actor=user, items=[form.item(contact=contact, day=today)]
            )[0]
            if result.status in ("created", "exists"):
                if result.referrals:
                    messages.warning(request, _("Follow-up saved. The contact is referred for a test."))
                else:
                    messages.success(request, _("Follow-up saved."))
                return redirect("tracing:index")
            for error in result.errors:
                field = error["field"] if error["field"] in form.fields else None
                form.add_error(field, error["message"])
    done_today = contact.follow_ups.filter(date=today).first()
    index_visible = cases_visible(user=user).filter(pk=contact.case_id).exists()
    return render(
        request,
        "tracing/follow_up.html",
        {
            "contact": contact,
            "form": form,
            "today": today,
            "done_today": done_today,
            "index_visible": index_visible,
            "history": list(contact.follow_ups.order_by("-date")[:14]),
        },
        status=status,
    )


COLOURS = {
    "confirmed": "#b3261e",
    "probable": "#e07b00",
    "suspected": "#d4b106",
    "discarded": "#9aa0a6",
    "contact": "#5b8def",
    "event": "#7b3fa0",
}
OUTCOME_STROKES = {"died": "#000", "recovered": "#0b6e4f", "": "#fff"}


@require_safe
@personal_data_required
def case_cluster(request, case_id):
    """The chain view: the cluster of a case drawn by generation (inline SVG), and the same as a list."""
    user = request.user
    try:
        graph = selectors.cluster_graph(user=user, case_id=case_id)
    except errors.NotFound as exc:
        raise Http404("case not found") from exc
    nodes, edges = graph["nodes"], graph["edges"]
    drawing = None
    if len(nodes) <= DRAW_LIMIT:
        placed = layout.generation_layout(nodes, edges)
        positions = placed["positions"]
        for node in nodes:
            node["x"], node["y"] = positions[node["key"]]
            node["corner_x"], node["corner_y"] = node["x"] - 11, node["y"] - 11  # an event's square
            kind = node["classification"] if node["kind"] == "case" else node["kind"]
            node["fill"] = COLOURS.get(kind, COLOURS["contact"])
            node["stroke"] = OUTCOME_STROKES.get(node["outcome"], "#fff")
        lines = [
            {
                "x1": positions[e["source"]][0],
                "y1": positions[e["source"]][1],
                "x2": positions[e["target"]][0],
                "y2": positions[e["target"]][1],
                "kind": e["kind"],
            }
            for e in edges
        ]
        drawing = {"width": placed["width"], "height": placed["height"], "lines": lines}
    return render(
        request,
        "tracing/cluster.html",
        {
            "graph": graph,
            "nodes": sorted(nodes, key=lambda n: (n["generation"], n["kind"] != "case", n["key"])),
            "drawing": drawing,
            "case_id": case_id,
            "colours": COLOURS,
            "draw_limit": DRAW_LIMIT,
        },
    )


@require_safe
@login_required
def clusters(request):
    """Clusters of the user's area (or of `?org_unit=CODE` inside it) with their statistics. Aggregates: the
    analyst sees them too (without the link to a case)."""
    user = request.user
    code = request.GET.get("org_unit", "")
    if not code:
        units = user_jurisdiction_units(user=user)
        if not units:
            raise PermissionDenied
        code = units[0].code
    try:
        unit = selectors.org_unit_for_clusters(user=user, code=code)
    except errors.NotFound as exc:
        raise Http404("org unit not found") from exc
    result = selectors.clusters_in_unit(user=user, unit=unit)
    return render(request, "tracing/clusters.html", {"result": result, "unit": unit})
