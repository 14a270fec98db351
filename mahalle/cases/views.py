"""Cases pages: the supervisor's list, the follow-up form (a volunteer's phone), a case's page. Thin: selectors
read, services write; a record outside the user's jurisdiction is a 404 page."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from mahalle.accounts.capabilities import Can, may
from mahalle.accounts.gates import personal_data_required
from mahalle.accounts.selectors import org_unit_in_jurisdiction
from mahalle.core import errors
from mahalle.core.pages import Pages
from mahalle.core.persian import normalize_text
from mahalle.geo.models import OrgUnit

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
    add_service_errors,
)
from .models import Classification

pages = Pages("cases")
LIST_LIMIT = 100
PLACES_LIMIT = 500


def _found(access, user, pk):
    """The record through its access selector; NotFound (outside the jurisdiction, or unknown) is the 404 page.
    (Until the pages' DomainError middleware does this mapping for every page.)"""
    try:
        return access(user, pk)
    except errors.NotFound as exc:
        raise Http404(exc.detail) from exc


def _case_read(user, case_id):
    return selectors.case_detail(user=user, case_id=case_id)


@pages.get("", name="index")
@personal_data_required
def index(request):
    """Everything a post supervisor acts on today; a volunteer sees the follow-ups due."""
    user = request.user
    today = timezone.localdate()
    can_manage = may(user, Can.MANAGE_CASES)
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


def follow_up_page(request, subject, *, form_class, record, alerted, warning, back, template, context):
    """A daily follow-up page of a phone (an isolated person's here, a contact's in tracing): the form, and its
    POST sent as a one-item batch to the phone-batch service `record`. Saved (or sent twice): a message — the
    `warning` when `alerted(result)` — and back to the `back` page; refused: the form again with the errors (422).
    The template (one extending follow_up_page.html) gets the subject's person, the form, today, today's follow-up
    of `subject` when there is one, the `back` page's URL (cancel_url), and `context`."""
    today = timezone.localdate()
    form = form_class(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            result = record(actor=request.user, items=[form.item(subject, day=today)])[0]
            if result.status in ("created", "exists"):
                if alerted(result):
                    messages.warning(request, warning)
                else:
                    messages.success(request, _("Follow-up saved."))
                return redirect(back)
            add_service_errors(form, result.errors)
    done_today = subject.follow_ups.filter(date=today).first()
    return render(
        request,
        template,
        {
            "person": subject.person,
            "form": form,
            "today": today,
            "done_today": done_today,
            "cancel_url": reverse(back),
            **context,
        },
        status=status,
    )


@pages.route("isolations/<uuid:isolation_id>/follow-up/", name="follow_up")
@personal_data_required
def follow_up(request, isolation_id):
    """The daily follow-up of one isolated person, on a phone."""
    user = request.user
    if not may(user, Can.RECORD_FOLLOW_UPS):
        raise PermissionDenied
    isolation = _found(selectors.access_isolation, user, isolation_id)
    return follow_up_page(
        request,
        isolation,
        form_class=FollowUpForm,
        record=services.follow_ups_record,
        alerted=lambda result: result.urgent,
        warning=_("Follow-up saved. Deterioration: the supervisor is alerted."),
        back="cases:index",
        template="cases/follow_up.html",
        context={"isolation": isolation},
    )


def _case_page(request, case, *, bound=None, status=200):
    """The case page; `bound` is the one submitted form (with its errors) to show instead of a blank one."""
    user = request.user
    today = timezone.localdate()
    can_manage = may(user, Can.MANAGE_CASES)
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


@pages.get("<uuid:case_id>/", name="case_detail")
@personal_data_required
def case_detail(request, case_id):
    return _case_page(request, _found(_case_read, request.user, case_id))


def _case_write(request, case_id, *, name, form_class, prefix, write, success, form_kwargs=None):
    """POST of one of the case page's forms: 404 outside the jurisdiction, 403 for a role the services refuse,
    the page again with the errors next to the fields (422, or 409 for a conflict) when the write is refused."""
    case = _found(_case_read, request.user, case_id)
    if not may(request.user, Can.MANAGE_CASES):
        raise PermissionDenied
    form = form_class(request.POST, prefix=prefix, **(form_kwargs(case) if form_kwargs else {}))
    if not form.is_valid():
        return _case_page(request, case, bound=(name, form), status=422)
    try:
        write(case, form.cleaned_data)
    except errors.PermissionDenied as exc:
        raise PermissionDenied(exc.detail) from exc
    except errors.DomainError as exc:
        add_service_errors(form, exc.errors, exc.detail)
        return _case_page(request, case, bound=(name, form), status=exc.status_code)
    messages.success(request, success)
    return redirect("cases:case_detail", case_id=case.pk)


@pages.post("<uuid:case_id>/isolation/", name="isolation_start")
@personal_data_required
def isolation_start(request, case_id):
    def write(case, data):
        services.isolation_start(actor=request.user, person=case.person, case=case, **data)

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


@pages.post("<uuid:case_id>/isolation/release/", name="isolation_release")
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


@pages.post("<uuid:case_id>/hospitalisation/", name="case_hospitalisation")
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


@pages.post("<uuid:case_id>/outcome/", name="case_outcome")
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


@pages.route("places/", name="places")
@personal_data_required
def places(request):
    """Quarantine places with their occupancy; coordinators create them here (the org unit by its code)."""
    user = request.user
    if not may(user, Can.MANAGE_CASES):
        raise PermissionDenied
    can_create = may(user, Can.CREATE_PLACES)
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
                    add_service_errors(form, exc.errors, exc.detail)
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


def write_and_report(request, write, success: str) -> None:
    """A page's one-button write (the cases and tracing pages): `success` as its message, or the refusal's summary
    as an error message; a PermissionDenied is the 403 page."""
    try:
        write()
    except errors.PermissionDenied as exc:
        raise PermissionDenied(exc.detail) from exc
    except errors.DomainError as exc:
        messages.error(request, exc.summary())
    else:
        messages.success(request, success)


@pages.post("<uuid:case_id>/classification/", name="case_classify")
@personal_data_required
def case_classify(request, case_id):
    case = _found(selectors.access_case, request.user, case_id)
    form = ClassificationForm(request.POST)
    if form.is_valid():
        write_and_report(
            request,
            lambda: services.case_classification_change(actor=request.user, case=case, **form.cleaned_data),
            _("The classification was changed."),
        )
    else:
        messages.error(request, _("Choose a classification and give the reason."))
    return redirect("cases:case_detail", case_id=case.pk)


@pages.post("test-orders/<uuid:order_id>/sample/", name="order_sample")
@personal_data_required
def order_sample(request, order_id):
    order = _found(selectors.access_test_order, request.user, order_id)
    form = SampleForm(request.POST)
    if form.is_valid():
        write_and_report(
            request,
            lambda: services.test_order_sample(actor=request.user, order=order, **form.cleaned_data),
            _("The sample was recorded."),
        )
    else:
        messages.error(request, _("Give the sample id and the kind of test."))
    return redirect("cases:index")


@pages.post("test-orders/<uuid:order_id>/result/", name="order_result")
@personal_data_required
def order_result(request, order_id):
    order = _found(selectors.access_test_order, request.user, order_id)
    form = ResultForm(request.POST)
    if not form.is_valid() or not order.sample_id:
        messages.error(request, _("Give the result and its date (after the sample is recorded)."))
        return redirect("cases:index")
    item = {"sample_id": order.sample_id, "kind": order.kind, "lab": order.lab, **form.cleaned_data}

    def write():
        result = services.lab_results_record(actor=request.user, items=[item])[0]
        if result.status not in ("created", "exists"):
            raise errors.ValidationFailed(_("The result was not recorded."), result.errors)

    write_and_report(request, write, _("The result was recorded."))
    return redirect("cases:index")


@pages.post("alerts/<uuid:alert_id>/resolve/", name="alert_resolve")
@personal_data_required
def alert_resolve(request, alert_id):
    alert = _found(selectors.access_alert, request.user, alert_id)
    write_and_report(
        request,
        lambda: services.alert_resolve(actor=request.user, alert=alert),
        _("The alert was resolved."),
    )
    return redirect("cases:index")
