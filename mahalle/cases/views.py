"""Cases pages: the supervisor's list, the follow-up form (a volunteer's phone), a case's page. Thin: selectors
read, services write; a record outside the user's jurisdiction is a 404 page."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from mahalle.core import errors
from mahalle.registry.views import personal_data_required

from . import selectors, services
from .forms import ClassificationForm, FollowUpForm, ResultForm, SampleForm

LIST_LIMIT = 100


def _or_404(queryset, pk, what: str):
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise Http404(f"{what} not found")
    return found


def _message_of(exc: errors.DomainError) -> str:
    details = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors)
    return f"{exc.detail}{' — ' + details if details else ''}"


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
    isolation = _or_404(
        selectors.isolations_visible(user=user).select_related("person", "person__household"),
        isolation_id,
        "isolation",
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


@require_safe
@personal_data_required
def case_detail(request, case_id):
    try:
        case = selectors.case_detail(user=request.user, case_id=case_id)
    except errors.NotFound as exc:
        raise Http404(exc.detail) from exc
    return render(
        request,
        "cases/case_detail.html",
        {
            "case": case,
            "history": list(selectors.case_history(case=case)),
            "isolations": list(case.isolations.order_by("-start_date")),
            "tests": list(case.person.test_orders.order_by("-created_at")),
            "can_manage": request.user.has_role(services.CASE_ROLES),
            "form": ClassificationForm(initial={"classification": case.classification}),
        },
    )


def _run(request, write, success: str) -> None:
    try:
        write()
    except errors.PermissionDenied as exc:
        raise PermissionDenied(exc.detail) from exc
    except errors.DomainError as exc:
        messages.error(request, _message_of(exc))
    else:
        messages.success(request, success)


@require_POST
@personal_data_required
def case_classify(request, case_id):
    case = _or_404(selectors.cases_visible(user=request.user), case_id, "case")
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
    order = _or_404(selectors.test_orders_visible(user=request.user), order_id, "test order")
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
    order = _or_404(selectors.test_orders_visible(user=request.user), order_id, "test order")
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
    alert = _or_404(selectors.alerts_visible(user=request.user), alert_id, "alert")
    _run(
        request,
        lambda: services.alert_resolve(actor=request.user, alert=alert),
        _("The alert was resolved."),
    )
    return redirect("cases:index")
