"""Needs pages: the agency's lists and uploads (with progress), the review queue and a pair side by side, golden
records, who else supports a household, and the needs panel of a household page. Thin: selectors read, services
write; a record outside the user's jurisdiction is a 404 page, a write refused a 403 page (web.middleware answers
the selectors' NotFound and the services' PermissionDenied)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from mahalle.accounts.capabilities import Can, may
from mahalle.accounts.gates import personal_data_required
from mahalle.accounts.selectors import org_unit_in_jurisdiction, user_jurisdiction_units
from mahalle.core import errors
from mahalle.core.ingest import UploadTooLarge, job_percent
from mahalle.core.pages import Pages
from mahalle.geo.models import OrgUnit
from mahalle.geo.selectors import posts_within

from . import selectors, services, tasks
from .models import AgencyList
from .rules import POINTS

pages = Pages("needs")
LIST_LIMIT = 100


def _act(request, write, done: str, **kwargs):
    """Call a write as the user: a validation error is a message on the page the user returns to, success the
    `done` message (a refusal is the 403 page: web.middleware). Returns the write's answer (None if invalid)."""
    try:
        answer = write(actor=request.user, **kwargs)
    except errors.ValidationFailed as exc:
        messages.error(request, exc.summary())
        return None
    messages.success(request, done)
    return answer


def _units_for_upload(user) -> list[OrgUnit]:
    units = []
    for unit in user_jurisdiction_units(user=user):
        units.append(unit)
        units.extend(posts_within(unit=unit).exclude(pk=unit.pk).order_by("path")[:500])
    return units


@pages.get("", name="index")
@personal_data_required
def index(request):
    user = request.user
    lists = list(selectors.agency_lists_visible(user=user).order_by("-created_at")[:LIST_LIMIT])
    for item in lists:
        item.percent = job_percent(item)
    return render(
        request,
        "needs/index.html",
        {
            "lists": lists,
            "counts": selectors.needs_counts(user=user),
            "can_upload": may(user, Can.UPLOAD_LISTS) and selectors.agencies_for_upload(user=user).exists(),
            "can_review": may(user, Can.REVIEW_LINKS),
        },
    )


@pages.route("lists/upload/", name="upload")
@personal_data_required
def upload(request):
    user = request.user
    if not may(user, Can.UPLOAD_LISTS):
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
                agency_list = tasks.agency_list_upload(
                    actor=user,
                    agency_code=request.POST.get("agency", ""),
                    org_unit_code=request.POST.get("org_unit", ""),
                    upload=upload_file,
                )
            except UploadTooLarge as exc:
                messages.error(request, str(exc))
                status = 413
            except errors.ValidationFailed as exc:
                messages.error(request, exc.summary())
            else:
                messages.success(request, _("The list was received; it is being read."))
                return redirect("needs:list_detail", list_id=agency_list.pk)
    return render(request, "needs/upload.html", {"agencies": agencies, "units": units}, status=status)


def _list_context(request, list_id) -> dict:
    agency_list = selectors.access_agency_list(request.user, list_id)
    return {
        "item": agency_list,
        "percent": job_percent(agency_list),
        "running": agency_list.status in (AgencyList.Status.PENDING, AgencyList.Status.RUNNING)
        or agency_list.link_status == AgencyList.LinkStatus.LINKING,
        "can_link": may(request.user, Can.LINK)
        and org_unit_in_jurisdiction(user=request.user, unit=agency_list.org_unit)
        and agency_list.status == AgencyList.Status.DONE,
    }


@pages.get("lists/<int:list_id>/", name="list_detail")
@personal_data_required
def list_detail(request, list_id):
    context = _list_context(request, list_id)
    context["row_errors"] = list(context["item"].row_errors.order_by("row_number", "id")[:LIST_LIMIT])
    return render(request, "needs/list_detail.html", context)


@pages.get("lists/<int:list_id>/progress/", name="list_progress")
@personal_data_required
def list_progress(request, list_id):
    """The progress fragment the list page polls (htmx) while the list is read or linked."""
    return render(request, "needs/_list_progress.html", _list_context(request, list_id))


@pages.post("lists/<int:list_id>/link/", name="list_link")
@personal_data_required
def list_link(request, list_id):
    agency_list = selectors.access_agency_list(request.user, list_id)
    _act(request, tasks.agency_list_link_queue, _("Linkage started."), agency_list=agency_list)
    return redirect("needs:list_detail", list_id=list_id)


@pages.get("review/", name="review_queue")
@personal_data_required
def review_queue(request):
    pairs = list(selectors.review_queue(user=request.user)[:LIST_LIMIT])
    return render(
        request,
        "needs/review_queue.html",
        {"pairs": pairs, "can_review": may(request.user, Can.REVIEW_LINKS)},
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


@pages.get("review/<int:pair_id>/", name="review_pair")
@personal_data_required
def review_pair(request, pair_id):
    pair = selectors.review_pair_detail(user=request.user, pair_id=pair_id)
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
            "can_review": may(request.user, Can.REVIEW_LINKS),
        },
    )


@pages.post("review/<int:pair_id>/decide/", name="review_decide")
@personal_data_required
def review_decide(request, pair_id):
    pair = selectors.review_pair_detail(user=request.user, pair_id=pair_id)
    decision, reason = request.POST.get("decision", ""), request.POST.get("reason", "")[:500]
    if decision == "undo":
        _act(request, services.review_pair_undo, _("The decision was saved."), pair=pair, reason=reason)
    else:
        _act(
            request,
            services.review_pair_decide,
            _("The decision was saved."),
            pair=pair,
            decision=decision,
            reason=reason,
        )
    return redirect("needs:review_pair", pair_id=pair.pk)


@pages.get("persons/<uuid:person_id>/", name="golden_person")
@personal_data_required
def golden_person(request, person_id):
    golden = selectors.golden_person(user=request.user, person_id=person_id)
    return render(
        request, "needs/golden_person.html", {**golden, "can_review": may(request.user, Can.REVIEW_LINKS)}
    )


@pages.get("households/<uuid:household_id>/", name="golden_household")
@personal_data_required
def golden_household(request, household_id):
    golden = selectors.golden_household(user=request.user, household_id=household_id)
    return render(request, "needs/golden_household.html", golden)


@pages.post("records/<uuid:record_id>/split/", name="record_split")
@personal_data_required
def record_split(request, record_id):
    record = selectors.access_source_record(request.user, record_id)
    record = (
        _act(
            request,
            services.source_record_split,
            _("The record now has a person of its own."),
            record=record,
            reason=request.POST.get("reason", "")[:500],
        )
        or record
    )
    return redirect("needs:golden_person", person_id=record.person_id)


@pages.get("supports/", name="supports")
@personal_data_required
def supports(request):
    return render(request, "needs/supports.html", {"rows": selectors.supports_overview(user=request.user)})


@pages.get("households/<uuid:household_id>/panel/", name="household_panel")
@personal_data_required
def household_panel(request, household_id):
    """The needs panel of a household page (the registry includes it; also served alone for htmx)."""
    found = selectors.household_needs(user=request.user, household_id=household_id)
    vulnerability = found["vulnerability"]
    found["reasons"] = [
        {**r, "label": _(POINTS[r["code"]][0]) if r.get("code") in POINTS else r.get("label", "")}
        for r in (vulnerability.reasons if vulnerability else [])
    ]
    return render(request, "needs/_household_panel.html", found)
