"""Screening pages: the volunteer's morning work list (phone first), the screening form for one household with
all its members on one screen, a visit's outcome with its reasons, the coordinators' coverage table and the
risk rules in force. Thin: selectors read, screening_visits_record writes."""

import re
import uuid

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import get_language

from mahalle.accounts.capabilities import Can, may
from mahalle.accounts.gates import personal_data_required
from mahalle.accounts.selectors import path_within, user_jurisdiction_units
from mahalle.cases.forms import SYMPTOM_LABELS, SYMPTOM_NAMES
from mahalle.core import errors
from mahalle.core.dates import to_jalali_str
from mahalle.core.pages import Pages
from mahalle.geo.models import Level, OrgUnit
from mahalle.geo.selectors import posts_within

from . import selectors, services
from .forms import MemberForm, VisitForm, service_message
from .models import VisitStatus

pages = Pages("screening")
POST_CHOICES_LIMIT = 200
_MEMBER_FIELD = re.compile(r"^members\[(\d+)\]\.(\w+)$")


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


@pages.get("", name="index")
@personal_data_required
def index(request):
    """The morning work list of one post: the volunteer's own, or the one chosen by a supervisor."""
    user = request.user
    try:
        post = selectors.worklist_post(user=user, code=request.GET.get("post", "")[:40])
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
        {**data, "can_write": may(user, Can.WRITE_PERSONAL)},
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


@pages.route("households/<uuid:household_id>/screen/", name="visit_form")
@personal_data_required
def visit_form(request, household_id):
    """Screen one household: every member on one screen. The visit's id is generated when the form is shown,
    so submitting twice (a double tap, a reload) stores one visit."""
    user = request.user
    if not may(user, Can.WRITE_PERSONAL):
        raise PermissionDenied
    household, members = selectors.household_for_screening(user=user, household_id=household_id)
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
            (result,) = services.screening_visits_record(actor=user, items=[item])
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
            "symptoms": SYMPTOM_LABELS,
        },
        status=422 if request.method == "POST" else 200,
    )


@pages.get("visits/<uuid:visit_id>/", name="visit_detail")
@personal_data_required
def visit_detail(request, visit_id):
    """What was recorded, and each member's outcome with the reasons the rules gave."""
    visit = selectors.access_visit(request.user, visit_id)
    return render(
        request, "screening/visit_detail.html", {"visit": visit, "members": list(visit.members.all())}
    )


@pages.get("coverage/", name="coverage")
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
            campaign_uuid = uuid.UUID(campaign_id)
        except ValueError as exc:
            raise Http404("campaign not found") from exc
        campaign = selectors.access_campaign(user, campaign_uuid)
        units = user_jurisdiction_units(user=user)
        code = request.GET.get("org_unit", "") or (units[0].code if units else "")
        unit = selectors.org_unit_for_user(user=user, code=code)
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
        if parent is not None and not path_within(parent.path, [u.path for u in units]):
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


@pages.get("rules/", name="rules")
@login_required
def rules(request):
    """The risk rules in force, with their reasons: what turns answers into a referral."""
    return render(
        request,
        "screening/rules.html",
        {
            "rules": selectors.active_rules(),
            "source": selectors.rules_source(),
            "symptom_labels": SYMPTOM_NAMES,
        },
    )
