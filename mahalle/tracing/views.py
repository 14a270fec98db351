"""Pages of the tracing area (thin: parse, call a selector or service, render).

A tracer's phone: the work list (index), a case's contacts (list, add, confirm, remove), a contact's daily
follow-up. A supervisor's and coordinator's screen: the chain view of a case's cluster, and the clusters of
their area with statistics. A record the user may not see is a 404 page (a selector's NotFound, answered by
the web shell's middleware)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from mahalle.accounts.capabilities import Can, may
from mahalle.accounts.gates import personal_data_required
from mahalle.accounts.selectors import user_jurisdiction_units
from mahalle.cases.forms import add_service_errors
from mahalle.cases.selectors import access_case, cases_visible
from mahalle.cases.views import follow_up_page, write_and_report
from mahalle.core import errors
from mahalle.core.pages import Pages

from . import layout, selectors, services
from .forms import ContactAddForm, ContactFollowUpForm, RemoveForm

pages = Pages("tracing")
LIST_LIMIT = 100
DRAW_LIMIT = 400  # larger clusters are shown as a list: a drawing of thousands of nodes helps nobody


@pages.get("", name="index")
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
            "can_write": may(user, Can.TRACE),
        },
        status=status,
    )


@pages.route("cases/<uuid:case_id>/contacts/", name="case_contacts")
@personal_data_required
def case_contacts(request, case_id):
    """A case's contacts on a phone: the list, the add form (national code, mobile or name)."""
    user = request.user
    case = access_case(user, case_id)
    if request.method != "POST":
        return _case_contacts_page(request, case)
    if not may(user, Can.TRACE):
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
        add_service_errors(form, exc.errors, exc.detail)
        return _case_contacts_page(request, case, form=form, status=exc.status_code)
    messages.success(request, _("Contact added."))
    return redirect("tracing:case_contacts", case_id=case.pk)


def _back(request):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("tracing:index")


def _to_trace(request, access, record_id):
    """The case or contact (`access` its access selector: 404 outside the user's sight), for a user who may
    trace (else 403)."""
    record = access(request.user, record_id)
    if not may(request.user, Can.TRACE):
        raise PermissionDenied
    return record


def _contact_write(request, contact_id, write, success: str, **values):
    """A contact's one-button write, `write(actor=, contact=, **values)`; then back to the page it came from."""
    contact = _to_trace(request, selectors.access_contact, contact_id)
    write_and_report(request, lambda: write(actor=request.user, contact=contact, **values), success)
    return _back(request)


@pages.post("cases/<uuid:case_id>/contacts/household/", name="case_household")
@personal_data_required
def case_household(request, case_id):
    case = _to_trace(request, access_case, case_id)
    write_and_report(
        request,
        lambda: services.contacts_list_household(actor=request.user, case=case),
        _("Household members listed."),
    )
    return redirect("tracing:case_contacts", case_id=case.pk)


@pages.post("contacts/<uuid:contact_id>/confirm/", name="contact_confirm")
@personal_data_required
def contact_confirm(request, contact_id):
    return _contact_write(request, contact_id, services.contact_confirm, _("Contact confirmed."))


@pages.post("contacts/<uuid:contact_id>/remove/", name="contact_remove")
@personal_data_required
def contact_remove(request, contact_id):
    reason = request.POST.get("reason", "")
    return _contact_write(request, contact_id, services.contact_remove, _("Contact removed."), reason=reason)


@pages.route("contacts/<uuid:contact_id>/follow-up/", name="contact_follow_up")
@personal_data_required
def contact_follow_up(request, contact_id):
    """Today's call to a contact, on a phone."""
    user = request.user
    if not may(user, Can.TRACE):
        raise PermissionDenied
    contact = selectors.access_contact(user, contact_id)
    return follow_up_page(
        request,
        contact,
        form_class=ContactFollowUpForm,
        record=services.contact_follow_ups_record,
        alerted=lambda result: result.referrals,
        warning=_("Follow-up saved. The contact is referred for a test."),
        back="tracing:index",
        template="tracing/follow_up.html",
        context={
            "contact": contact,
            "index_visible": cases_visible(user=user).filter(pk=contact.case_id).exists(),
            "history": list(contact.follow_ups.order_by("-date")[:14]),
        },
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


@pages.get("cases/<uuid:case_id>/cluster/", name="case_cluster")
@personal_data_required
def case_cluster(request, case_id):
    """The chain view: the cluster of a case drawn by generation (inline SVG), and the same as a list."""
    user = request.user
    graph = selectors.cluster_graph(user=user, case_id=case_id)
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


@pages.get("clusters/", name="clusters")
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
    unit = selectors.org_unit_for_clusters(user=user, code=code)
    result = selectors.clusters_in_unit(user=user, unit=unit)
    return render(request, "tracing/clusters.html", {"result": result, "unit": unit})
