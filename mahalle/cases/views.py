"""Cases pages: the supervisor's list, the follow-up form (a volunteer's phone), a case's page. Thin: selectors
read, services write; a record outside the user's jurisdiction is a 404 page."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from mahalle.accounts.selectors import org_unit_in_jurisdiction
from mahalle.core import errors
from mahalle.core.persian import normalize_text
from mahalle.geo.models import OrgUnit
from mahalle.registry.views import personal_data_required

from . import selectors, services
from .forms import (
    ClassificationForm,
    FollowUpForm,
    HospitalisationForm,
    IsolationReleaseForm,
    IsolationStartForm,
    OutcomeForm,
    QuarantinePlaceForm,
    ResultForm,
    SampleForm,
)
from .models import Classification

LIST_LIMIT = 100
PLACES_LIMIT = 500


@require_safe
@personal_data_required
def index(request):
    """Everything a post supervisor acts on today; a volunteer sees the follow-ups due."""
    user = request.user
    today = timezone.localdate()
    can_manage = user.has_role(services.CASE_ROLES)
    isolations = list(
        selectors.isolations_active(user=user)
        .select_related("person", "place")
        .order_by("planned_end_date", "id")[:LIST_LIMIT]
    )
    for isolation in isolations:
        isolation.days_left = max((isolation.planned_end_date - today).days, 0)
    context = {
        "today": today,
        "can_manage": can_manage,
        "urgent": list(selectors.alerts_urgent(user=user)[:LIST_LIMIT]),
        "missed": list(selectors.alerts_missed_follow_ups(user=user).select_related("person")[:LIST_LIMIT]),
        "due": list(selectors.follow_ups_due(user=user, on=today)[:LIST_LIMIT]),
        "untested": list(selectors.referrals_untested(user=user)[:LIST_LIMIT]),
        "isolations": isolations,
        "places": list(selectors.quarantine_places_usable(user=user)[:LIST_LIMIT]),
        "sample_form": SampleForm(),
        "result_form": ResultForm(initial={"result_date": today}),
    }
    return render(request, "cases/index.html", context)


@personal_data_required
def follow_up(request, isolation_id):
    """The daily follow-up of one isolated person, on a phone."""
    user = request.user
    if not user.has_role(services.FOLLOW_UP_ROLES):
        raise PermissionDenied
    today = timezone.localdate()
    isolation = get_object_or_404(
        selectors.isolations_visible(user=user).select_related("person", "person__household"), pk=isolation_id
    )
    form = FollowUpForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            result = services.follow_ups_record(
                actor=user, items=[form.item(isolation=isolation, day=today)]
            )[0]
            if result.status in ("created", "exists"):
                if result.urgent:
                    messages.warning(request, _("Follow-up saved. Deterioration: the supervisor is alerted."))
                else:
                    messages.success(request, _("Follow-up saved."))
                return redirect("cases:index")
            for error in result.errors:
                field = error["field"] if error["field"] in form.fields else None
                form.add_error(field, error["message"])
    done_today = isolation.follow_ups.filter(date=today).first()
    return render(
        request,
        "cases/follow_up.html",
        {"isolation": isolation, "form": form, "today": today, "done_today": done_today},
        status=status,
    )


def _case_page(request, case, *, bound=None, status=200):
    """The case page; `bound` is the one submitted form (with its errors) to show instead of a blank one."""
    user = request.user
    today = timezone.localdate()
    can_manage = user.has_role(services.CASE_ROLES)
    active = (
        selectors.isolations_visible(user=user)
        .filter(person_id=case.person_id, released_on=None)
        .select_related("place")
        .first()
    )
    if active is not None:
        active.days_left = max((active.planned_end_date - today).days, 0)
    is_open = not case.outcome and case.classification != Classification.DISCARDED
    forms = {}
    if can_manage:
        if is_open and active is None:
            forms["isolation_form"] = IsolationStartForm(
                prefix="isolation",
                initial={"start_date": today},
                places=selectors.quarantine_places_for_person(user=user, person=case.person),
            )
        if active is not None:
            forms["release_form"] = IsolationReleaseForm(prefix="release", initial={"on": today})
        if is_open and not case.hospitalised:
            forms["hospitalisation_form"] = HospitalisationForm(
                prefix="hospitalisation", initial={"on": today}
            )
        if is_open:
            forms["outcome_form"] = OutcomeForm(prefix="outcome", initial={"on": today})
    if bound is not None:
        name, form = bound
        forms[name] = form
    return render(
        request,
        "cases/case_detail.html",
        {
            "case": case,
            "today": today,
            "history": list(selectors.case_history(case=case)),
            "isolations": list(case.isolations.select_related("place").order_by("-start_date")),
            "active": active,
            "tests": list(case.person.test_orders.order_by("-created_at")),
            "can_manage": can_manage,
            "form": ClassificationForm(initial={"classification": case.classification}),
            **forms,
        },
        status=status,
    )


@require_safe
@personal_data_required
def case_detail(request, case_id):
    try:
        case = selectors.case_detail(user=request.user, case_id=case_id)
    except errors.NotFound as exc:
        raise Http404(exc.detail) from exc
    return _case_page(request, case)


def _show_errors(form, exc: errors.DomainError) -> None:
    """Put a service's field errors next to the form's fields (the rest above the form)."""
    for error in exc.errors:
        field = form.service_fields.get(error["field"], error["field"])
        form.add_error(field if field in form.fields else None, error["message"])
    if not exc.errors:
        form.add_error(None, exc.detail)


def _case_write(request, case_id, *, name, form_class, prefix, write, success, form_kwargs=None):
    """POST of one of the case page's forms: 404 outside the jurisdiction, 403 for a role the services refuse,
    the page again with the errors next to the fields (422, or 409 for a conflict) when the write is refused."""
    try:
        case = selectors.case_detail(user=request.user, case_id=case_id)
    except errors.NotFound as exc:
        raise Http404(exc.detail) from exc
    if not request.user.has_role(services.CASE_ROLES):
        raise PermissionDenied
    form = form_class(request.POST, prefix=prefix, **(form_kwargs(case) if form_kwargs else {}))
    if not form.is_valid():
        return _case_page(request, case, bound=(name, form), status=422)
    try:
        write(case, form.cleaned_data)
    except errors.PermissionDenied as exc:
        raise PermissionDenied(exc.detail) from exc
    except errors.DomainError as exc:
        _show_errors(form, exc)
        return _case_page(request, case, bound=(name, form), status=exc.status_code)
    messages.success(request, success)
    return redirect("cases:case_detail", case_id=case.pk)


@require_POST
@personal_data_required
def isolation_start(request, case_id):
    def write(case, data):
        services.isolation_start(
            actor=request.user,
            person=case.person,
            case=case,
            setting=data["setting"],
            place=data["place"],
            start_date=data["start_date"],
            onset_date=data["onset_date"],
            last_symptom_date=data["last_symptom_date"],
        )

    return _case_write(
        request,
        case_id,
        name="isolation_form",
        form_class=IsolationStartForm,
        prefix="isolation",
        form_kwargs=lambda case: {
            "places": selectors.quarantine_places_for_person(user=request.user, person=case.person)
        },
        write=write,
        success=_("The isolation was started."),
    )


@require_POST
@personal_data_required
def isolation_release(request, case_id):
    def write(case, data):
        isolation = (
            selectors.isolations_visible(user=request.user)
            .filter(person_id=case.person_id, released_on=None)
            .first()
        )
        if isolation is None:
            raise errors.ValidationFailed(
                _("the isolation could not be released"),
                [errors.field_error("isolation_id", _("the person is not in isolation"))],
            )
        services.isolation_release(
            actor=request.user, isolation=isolation, on=data["on"], reason=data["reason"]
        )

    return _case_write(
        request,
        case_id,
        name="release_form",
        form_class=IsolationReleaseForm,
        prefix="release",
        write=write,
        success=_("The isolation was released."),
    )


@require_POST
@personal_data_required
def case_hospitalisation(request, case_id):
    return _case_write(
        request,
        case_id,
        name="hospitalisation_form",
        form_class=HospitalisationForm,
        prefix="hospitalisation",
        write=lambda case, data: services.case_hospitalisation_record(actor=request.user, case=case, **data),
        success=_("The hospitalisation was recorded."),
    )


@require_POST
@personal_data_required
def case_outcome(request, case_id):
    return _case_write(
        request,
        case_id,
        name="outcome_form",
        form_class=OutcomeForm,
        prefix="outcome",
        write=lambda case, data: services.case_outcome_record(actor=request.user, case=case, **data),
        success=_("The outcome was recorded."),
    )


@personal_data_required
def places(request):
    """Quarantine places with their occupancy; coordinators create them here (the org unit by its code)."""
    user = request.user
    if not user.has_role(services.CASE_ROLES):
        raise PermissionDenied
    can_create = user.has_role(services.PLACE_ROLES)
    form = QuarantinePlaceForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not can_create:
            raise PermissionDenied
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            unit = OrgUnit.objects.filter(code=normalize_text(data["org_unit"])).first()
            # An unknown code and a unit outside the jurisdiction answer the same: nothing is revealed.
            if unit is None or not org_unit_in_jurisdiction(user=user, unit=unit):
                form.add_error("org_unit", _("no org unit has this code in your jurisdiction"))
            else:
                try:
                    place = services.quarantine_place_create(
                        actor=user, org_unit=unit, name=data["name"], capacity=data["capacity"]
                    )
                except errors.PermissionDenied as exc:
                    raise PermissionDenied(exc.detail) from exc
                except errors.DomainError as exc:
                    _show_errors(form, exc)
                else:
                    messages.success(
                        request, _("The quarantine place %(name)s was created.") % {"name": place.name}
                    )
                    return redirect("cases:places")
    elif request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    listed = list(selectors.quarantine_places_usable(user=user)[:PLACES_LIMIT])
    return render(
        request,
        "cases/places.html",
        {
            "places": listed,
            "form": form,
            "can_create": can_create,
            "limit_reached": len(listed) >= PLACES_LIMIT,
        },
        status=status,
    )


def _run(request, write, success: str) -> None:
    try:
        write()
    except errors.PermissionDenied as exc:
        raise PermissionDenied(exc.detail) from exc
    except errors.DomainError as exc:
        messages.error(request, exc.summary())
    else:
        messages.success(request, success)


@require_POST
@personal_data_required
def case_classify(request, case_id):
    case = get_object_or_404(selectors.cases_visible(user=request.user), pk=case_id)
    form = ClassificationForm(request.POST)
    if form.is_valid():
        _run(
            request,
            lambda: services.case_classification_change(actor=request.user, case=case, **form.cleaned_data),
            _("The classification was changed."),
        )
    else:
        messages.error(request, _("Choose a classification and give the reason."))
    return redirect("cases:case_detail", case_id=case.pk)


@require_POST
@personal_data_required
def order_sample(request, order_id):
    order = get_object_or_404(selectors.test_orders_visible(user=request.user), pk=order_id)
    form = SampleForm(request.POST)
    if form.is_valid():
        _run(
            request,
            lambda: services.test_order_sample(actor=request.user, order=order, **form.cleaned_data),
            _("The sample was recorded."),
        )
    else:
        messages.error(request, _("Give the sample id and the kind of test."))
    return redirect("cases:index")


@require_POST
@personal_data_required
def order_result(request, order_id):
    order = get_object_or_404(selectors.test_orders_visible(user=request.user), pk=order_id)
    form = ResultForm(request.POST)
    if not form.is_valid() or not order.sample_id:
        messages.error(request, _("Give the result and its date (after the sample is recorded)."))
        return redirect("cases:index")
    item = {"sample_id": order.sample_id, "kind": order.kind, "lab": order.lab, **form.cleaned_data}

    def write():
        result = services.lab_results_record(actor=request.user, items=[item])[0]
        if result.status not in ("created", "exists"):
            raise errors.ValidationFailed(_("The result was not recorded."), result.errors)

    _run(request, write, _("The result was recorded."))
    return redirect("cases:index")


@require_POST
@personal_data_required
def alert_resolve(request, alert_id):
    alert = get_object_or_404(selectors.alerts_visible(user=request.user), pk=alert_id)
    _run(
        request,
        lambda: services.alert_resolve(actor=request.user, alert=alert),
        _("The alert was resolved."),
    )
    return redirect("cases:index")
