"""Screening pages: the volunteer's morning work list (phone first), the screening form for one household with
all its members on one screen, a visit's outcome with its reasons, the coordinators' coverage table and the
risk rules in force. Thin: selectors read, screening_visits_record writes."""

import re
import uuid
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.http import require_safe

from mahalle.accounts.models import PERSONAL_DATA_WRITE_ROLES
from mahalle.accounts.selectors import user_jurisdiction_units
from mahalle.core import errors
from mahalle.core.dates import to_jalali_str
from mahalle.geo.models import Level, OrgUnit
from mahalle.geo.selectors import posts_within

from . import selectors, services
from .forms import SYMPTOM_LABELS, MemberForm, VisitForm, service_message
from .models import VisitStatus
from .rules import SYMPTOMS

POST_CHOICES_LIMIT = 200
_MEMBER_FIELD = re.compile(r"^members\[(\d+)\]\.(\w+)$")


def personal_data_required(view):
    """Signed in, and a role that may read personal records (the analyst may not: 403)."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.can_read_personal_data:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _persian() -> bool:
    return (get_language() or "fa").startswith("fa")


def _follow_up_url(isolation_id) -> str:
    """The cases side's follow-up form for this isolation, if that page exists."""
    for args, kwargs, query in (
        ((), {"isolation_id": isolation_id}, ""),
        ((isolation_id,), {}, ""),
        ((), {}, f"?isolation={isolation_id}"),
    ):
        try:
            return reverse("cases:follow_up", args=args, kwargs=kwargs) + query
        except NoReverseMatch:
            continue
    return ""


def _posts_in_jurisdiction(user):
    posts = OrgUnit.objects.none()
    for unit in user_jurisdiction_units(user=user):
        posts = posts | posts_within(unit=unit)
    return posts.order_by("path")


@require_safe
@personal_data_required
def index(request):
    """The morning work list of one post: the volunteer's own, or the one chosen by a supervisor."""
    user = request.user
    try:
        post = selectors.worklist_post(user=user, code=request.GET.get("post", "")[:40])
    except errors.NotFound as exc:
        raise Http404(exc.detail) from exc
    except errors.ValidationFailed:
        posts = list(_posts_in_jurisdiction(user)[:POST_CHOICES_LIMIT])
        return render(
            request, "screening/choose_post.html", {"posts": posts, "code": request.GET.get("post", "")}
        )
    data = selectors.worklist(user=user, post=post, on=timezone.localdate())
    for item in data["follow_ups_due"]:
        item["url"] = _follow_up_url(item["isolation_id"])
    return render(
        request,
        "screening/worklist.html",
        {**data, "can_write": user.has_role(PERSONAL_DATA_WRITE_ROLES)},
    )


def _apply_service_errors(visit_form, member_forms_sent, service_errors) -> None:
    for error in service_errors:
        message = service_message(error["message"])
        match = _MEMBER_FIELD.match(error["field"])
        if match and int(match.group(1)) < len(member_forms_sent):
            form, name = member_forms_sent[int(match.group(1))], match.group(2)
            form.add_error(name if name in form.fields else None, message)
        elif error["field"] in visit_form.fields:
            visit_form.add_error(error["field"], message)
        else:
            visit_form.add_error(None, message)


@personal_data_required
def visit_form(request, household_id):
    """Screen one household: every member on one screen. The visit's id is generated when the form is shown,
    so submitting twice (a double tap, a reload) stores one visit."""
    user = request.user
    if not user.has_role(PERSONAL_DATA_WRITE_ROLES):
        raise PermissionDenied
    try:
        household, members = selectors.household_for_screening(user=user, household_id=household_id)
    except errors.NotFound as exc:
        raise Http404(exc.detail) from exc
    data = request.POST if request.method == "POST" else None
    today = timezone.localdate()
    initial_date = to_jalali_str(today, persian_digits=False) if _persian() else today.isoformat()
    form = VisitForm(data, initial={"visit_date": initial_date})
    member_forms = [MemberForm(data, person=person) for person in members]
    if request.method == "POST":
        visit_valid = form.is_valid()
        members_valid = [m.is_valid() for m in member_forms]  # every form, so every error shows at once
        if visit_valid and all(members_valid):
            cleaned = form.cleaned_data
            visit_date = cleaned["visit_date_parsed"]
            screened = cleaned["status"] == VisitStatus.SCREENED
            sent = member_forms if screened else []
            campaign = (
                selectors.campaigns_covering(path=household.org_path, on=visit_date)
                .order_by("-start_date", "name")
                .first()
            )
            item = {
                "id": cleaned["visit_id"],
                "household_id": household.pk,
                "visit_date": visit_date,
                "status": cleaned["status"],
                "campaign_id": campaign.pk if campaign else None,
                "needs": cleaned["needs"],
                "note": cleaned["note"],
                "members": [m.item() for m in sent],
            }
            try:
                (result,) = services.screening_visits_record(actor=user, items=[item])
            except errors.PermissionDenied as exc:
                raise PermissionDenied(exc.detail) from exc
            if result.status in ("created", "exists"):
                return redirect("screening:visit_detail", visit_id=cleaned["visit_id"])
            _apply_service_errors(form, sent, result.errors)
    return render(
        request,
        "screening/visit_form.html",
        {
            "household": household,
            "form": form,
            "member_forms": member_forms,
            "symptoms": [(s, SYMPTOM_LABELS[s]) for s in SYMPTOMS],
        },
        status=422 if request.method == "POST" else 200,
    )


@require_safe
@personal_data_required
def visit_detail(request, visit_id):
    """What was recorded, and each member's outcome with the reasons the rules gave."""
    try:
        visit = selectors.visit_detail(user=request.user, visit_id=visit_id)
    except errors.NotFound as exc:
        raise Http404(exc.detail) from exc
    return render(
        request, "screening/visit_detail.html", {"visit": visit, "members": list(visit.members.all())}
    )


@require_safe
@login_required
def coverage(request):
    """A coordinator's coverage table: choose a campaign, then drill down the org-unit tree. Aggregates only,
    so every role sees it for its own subtree."""
    user = request.user
    campaigns = list(selectors.campaigns_visible(user=user).order_by("-start_date", "name")[:100])
    context = {
        "campaigns": campaigns,
        "table": None,
        "campaign": None,
        "groups": list(selectors.COVERAGE_GROUPS),
    }
    campaign_id = request.GET.get("campaign", "")
    group = request.GET.get("group", "children")
    if campaign_id:
        try:
            campaign = selectors.campaign_detail(user=user, campaign_id=uuid.UUID(campaign_id))
        except (ValueError, errors.NotFound) as exc:
            raise Http404("campaign not found") from exc
        units = user_jurisdiction_units(user=user)
        code = request.GET.get("org_unit", "") or (units[0].code if units else "")
        try:
            unit = selectors.org_unit_for_user(user=user, code=code)
        except errors.NotFound as exc:
            raise Http404(exc.detail) from exc
        try:
            table = selectors.coverage_table(user=user, campaign=campaign, org_unit=unit, group=group)
        except errors.ValidationFailed:
            group = "children"
            table = (
                selectors.coverage_table(user=user, campaign=campaign, org_unit=unit, group=group)
                if unit.level < Level.POST
                else None
            )
        parent = unit.parent if unit.parent_id else None
        if parent is not None and not any(parent.path.startswith(u.path) for u in units):
            parent = None
        context.update(
            {
                "campaign": campaign,
                "unit": unit,
                "table": table,
                "group": group,
                "parent": parent,
                "post_level": Level.POST,
            }
        )
    return render(request, "screening/coverage.html", context)


@require_safe
@login_required
def rules(request):
    """The risk rules in force, with their reasons: what turns answers into a referral."""
    return render(
        request,
        "screening/rules.html",
        {
            "rules": selectors.active_rules(),
            "source": selectors.rules_source(),
            "symptom_labels": SYMPTOM_LABELS,
        },
    )
