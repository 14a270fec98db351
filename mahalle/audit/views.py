"""The audit log page: read-only search of the events about records inside the user's subtree."""

import datetime as dt

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mahalle.accounts.capabilities import Can, may
from mahalle.core.dates import InvalidDate, parse_date
from mahalle.core.display import AUDIT_ACTION_LABELS
from mahalle.core.pages import Pages
from mahalle.core.persian import normalize_text

from .models import AuditAction
from .selectors import audit_events_search

pages = Pages("audit")
PAGE_SIZE = 50


class AuditSearchForm(forms.Form):
    actor = forms.CharField(label=_("Actor (username)"), max_length=150, required=False)
    action = forms.ChoiceField(
        label=_("Action"),
        choices=[
            ("", "—"),
            *((value, AUDIT_ACTION_LABELS.get(value, value)) for value in AuditAction.values),
        ],
        required=False,
    )
    object_type = forms.CharField(
        label=_("Object type"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "registry.person", "dir": "ltr"}),
    )
    object_id = forms.CharField(
        label=_("Object id"), max_length=64, required=False, widget=forms.TextInput(attrs={"dir": "ltr"})
    )
    since = forms.CharField(
        label=_("From date"), max_length=20, required=False, widget=forms.TextInput(attrs={"dir": "ltr"})
    )
    until = forms.CharField(
        label=_("To date (inclusive)"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"dir": "ltr"}),
    )

    def _clean_text(self, name):
        return normalize_text(self.cleaned_data.get(name, ""))

    def clean_actor(self):
        return self._clean_text("actor")

    def clean_object_type(self):
        return self._clean_text("object_type").lower()

    def clean_object_id(self):
        return self._clean_text("object_id")

    def _clean_day(self, name) -> dt.date | None:
        value = self.cleaned_data.get(name, "")
        if not value:
            return None
        try:
            return parse_date(value)[0]
        except InvalidDate as exc:
            raise forms.ValidationError(
                _("not a date: use Jalali 1403/01/15 or Gregorian 2024-04-03")
            ) from exc

    def clean_since(self):
        return self._clean_day("since")

    def clean_until(self):
        return self._clean_day("until")

    def search_kwargs(self) -> dict:
        data = self.cleaned_data
        zone = timezone.get_current_timezone()
        since = data.get("since")
        until = data.get("until")
        return {
            "actor_username": data.get("actor", ""),
            "action": data.get("action", ""),
            "object_type": data.get("object_type", ""),
            "object_id": data.get("object_id", ""),
            "since": dt.datetime.combine(since, dt.time.min, tzinfo=zone) if since else None,
            "until": dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
            if until
            else None,
        }


@pages.get("", name="search")
@login_required
def audit_search(request):
    if not may(request.user, Can.READ_AUDIT):
        raise PermissionDenied
    form = AuditSearchForm(request.GET or None)
    page = None
    if form.is_bound and not form.is_valid():
        events = None
    else:
        kwargs = form.search_kwargs() if form.is_bound else {}
        events = audit_events_search(user=request.user, **kwargs).order_by("-at", "-id")
        page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/search.html",
        {"form": form, "page": page, "query": query.urlencode()},
        status=200 if events is not None else 400,
    )
