"""Needs pages: the agency's lists and uploads (with progress), the review queue and a pair side by side, golden
records, who else supports a household, and the needs panel of a household page. Thin: selectors read, services
write; a record outside the user's jurisdiction is a 404 page."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from mahalle.accounts.selectors import org_unit_in_jurisdiction, user_jurisdiction_units
from mahalle.core import errors
from mahalle.geo.models import OrgUnit
from mahalle.geo.selectors import posts_within
from mahalle.registry.importing import UploadTooLarge
from mahalle.registry.views import personal_data_required

from . import selectors, services
from .linking import LINK_ROLES, REVIEW_ROLES
from .lists import UPLOAD_ROLES, agency_list_percent
from .models import AgencyList

LIST_LIMIT = 100


def _get_or_404(getter, **kwargs):
    try:
        return getter(**kwargs)
    except errors.NotFound as exc:
        raise Http404(exc.detail) from exc


def _units_for_upload(user) -> list[OrgUnit]:
    units = []
    for unit in user_jurisdiction_units(user=user):
        units.append(unit)
        units.extend(posts_within(unit=unit).exclude(pk=unit.pk).order_by("path")[:500])
    return units


@require_safe
@personal_data_required
def index(request):
    user = request.user
    lists = list(selectors.agency_lists_visible(user=user).order_by("-created_at")[:LIST_LIMIT])
    for item in lists:
        item.percent = agency_list_percent(item)
    return render(
        request,
        "needs/index.html",
        {
            "lists": lists,
            "counts": selectors.needs_counts(user=user),
            "can_upload": user.has_role(UPLOAD_ROLES) and selectors.agencies_for_upload(user=user).exists(),
            "can_review": user.has_role(REVIEW_ROLES),
        },
    )


@personal_data_required
def upload(request):
    user = request.user
    if not user.has_role(UPLOAD_ROLES):
        raise PermissionDenied
    agencies = list(selectors.agencies_for_upload(user=user))
    units = _units_for_upload(user)
    status = 200
    if request.method == "POST":
        status = 422
        upload_file = request.FILES.get("file")
        if upload_file is None:
            messages.error(request, _("Choose a CSV or XLSX file."))
        else:
            try:
                agency_list = services.agency_list_submit(
                    actor=user,
                    agency_code=request.POST.get("agency", ""),
                    org_unit_code=request.POST.get("org_unit", ""),
                    upload=upload_file,
                )
            except UploadTooLarge as exc:
                messages.error(request, str(exc))
                status = 413
            except errors.PermissionDenied as exc:
                raise PermissionDenied(exc.detail) from exc
            except errors.ValidationFailed as exc:
                messages.error(request, exc.summary())
            else:
                messages.success(request, _("The list was received; it is being read."))
                return redirect("needs:list_detail", list_id=agency_list.pk)
    return render(request, "needs/upload.html", {"agencies": agencies, "units": units}, status=status)


def _list_context(request, list_id) -> dict:
    agency_list = _get_or_404(selectors.agency_list_detail, user=request.user, list_id=list_id)
    return {
        "item": agency_list,
        "percent": agency_list_percent(agency_list),
        "running": agency_list.status in (AgencyList.Status.PENDING, AgencyList.Status.RUNNING)
        or agency_list.link_status == AgencyList.LinkStatus.LINKING,
        "can_link": request.user.has_role(LINK_ROLES)
        and org_unit_in_jurisdiction(user=request.user, unit=agency_list.org_unit)
        and agency_list.status == AgencyList.Status.DONE,
    }


@require_safe
@personal_data_required
def list_detail(request, list_id):
    context = _list_context(request, list_id)
    context["row_errors"] = list(context["item"].row_errors.order_by("row_number", "id")[:LIST_LIMIT])
    return render(request, "needs/list_detail.html", context)


@require_safe
@personal_data_required
def list_progress(request, list_id):
    """The progress fragment the list page polls (htmx) while the list is read or linked."""
    return render(request, "needs/_list_progress.html", _list_context(request, list_id))


@require_POST
@personal_data_required
def list_link(request, list_id):
    agency_list = _get_or_404(selectors.agency_list_detail, user=request.user, list_id=list_id)
    try:
        services.agency_list_link_request(actor=request.user, agency_list=agency_list)
    except errors.PermissionDenied as exc:
        raise PermissionDenied(exc.detail) from exc
    except errors.ValidationFailed as exc:
        messages.error(request, exc.summary())
    else:
        messages.success(request, _("Linkage started."))
    return redirect("needs:list_detail", list_id=list_id)


@require_safe
@personal_data_required
def review_queue(request):
    pairs = list(selectors.review_queue(user=request.user)[:LIST_LIMIT])
    return render(
        request,
        "needs/review_queue.html",
        {"pairs": pairs, "can_review": request.user.has_role(REVIEW_ROLES)},
    )


FIELDS = (
    ("national_code", "national_code"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("father_name", "father_name"),
    ("birth_date", "birth_date"),
    ("sex", "sex"),
    ("mobile", "mobile"),
)


@require_safe
@personal_data_required
def review_pair(request, pair_id):
    pair = _get_or_404(selectors.review_pair_detail, user=request.user, pair_id=pair_id)
    record, person = pair.source_record, pair.person
    rows = []
    for field, _name in FIELDS:
        evidence = pair.evidence.get(field) if isinstance(pair.evidence, dict) else None
        rows.append(
            {
                "field": field,
                "record": getattr(record, field),
                "person": getattr(person, field),
                "level": evidence.get("level", "") if isinstance(evidence, dict) else "",
                "weight": evidence.get("weight") if isinstance(evidence, dict) else None,
            }
        )
    return render(
        request,
        "needs/review_pair.html",
        {
            "pair": pair,
            "record": record,
            "person": person,
            "rows": rows,
            "history": list(pair.history.select_related("by")),
            "can_review": request.user.has_role(REVIEW_ROLES),
        },
    )


@require_POST
@personal_data_required
def review_decide(request, pair_id):
    pair = _get_or_404(selectors.review_pair_detail, user=request.user, pair_id=pair_id)
    try:
        if request.POST.get("decision") == "undo":
            services.review_pair_undo(
                actor=request.user, pair=pair, reason=request.POST.get("reason", "")[:500]
            )
        else:
            services.review_pair_decide(
                actor=request.user,
                pair=pair,
                decision=request.POST.get("decision", ""),
                reason=request.POST.get("reason", "")[:500],
            )
    except errors.PermissionDenied as exc:
        raise PermissionDenied(exc.detail) from exc
    except errors.ValidationFailed as exc:
        messages.error(request, exc.summary())
        return redirect("needs:review_pair", pair_id=pair.pk)
    messages.success(request, _("The decision was saved."))
    return redirect("needs:review_pair", pair_id=pair.pk)


@require_safe
@personal_data_required
def golden_person(request, person_id):
    golden = _get_or_404(selectors.golden_person, user=request.user, person_id=person_id)
    return render(
        request, "needs/golden_person.html", {**golden, "can_review": request.user.has_role(REVIEW_ROLES)}
    )


@require_safe
@personal_data_required
def golden_household(request, household_id):
    golden = _get_or_404(selectors.golden_household, user=request.user, household_id=household_id)
    return render(request, "needs/golden_household.html", golden)


@require_POST
@personal_data_required
def record_split(request, record_id):
    record = selectors.source_records_visible(user=request.user).filter(pk=record_id).first()
    if record is None:
        raise Http404("source record not found")
    try:
        record = services.source_record_split(
            actor=request.user, record=record, reason=request.POST.get("reason", "")[:500]
        )
    except errors.PermissionDenied as exc:
        raise PermissionDenied(exc.detail) from exc
    except errors.ValidationFailed as exc:
        messages.error(request, exc.summary())
        return redirect("needs:golden_person", person_id=record.person_id)
    messages.success(request, _("The record now has a person of its own."))
    return redirect("needs:golden_person", person_id=record.person_id)


@require_safe
@personal_data_required
def supports(request):
    return render(request, "needs/supports.html", {"rows": selectors.supports_overview(user=request.user)})


@require_safe
@personal_data_required
def household_panel(request, household_id):
    """The needs panel of a household page (the registry includes it; also served alone for htmx)."""
    from .vulnerability import POINTS

    found = _get_or_404(selectors.household_needs, user=request.user, household_id=household_id)
    vulnerability = found["vulnerability"]
    found["reasons"] = [
        {**r, "label": _(POINTS[r["code"]][0]) if r.get("code") in POINTS else r.get("label", "")}
        for r in (vulnerability.reasons if vulnerability else [])
    ]
    return render(request, "needs/_household_panel.html", found)
