"""Forms of the screening pages. They only carry text to screening_visits_record, which does the validating, so
the page and the phones' batch endpoint accept and refuse exactly the same visits."""

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from mahalle.cases.forms import NEED_LABELS, SYMPTOM_LABELS, checkboxes
from mahalle.core.dates import InvalidDate, parse_date

from .models import VisitStatus

# Field errors of the service, written in English in the domain code, shown translated next to the field.
SERVICE_MESSAGES = {
    "is in the future": _("is in the future"),
    "is more than a year ago": _("is more than a year ago"),
    "is after the visit date": _("is after the visit date"),
    "must be between 50 and 100": _("must be between 50 and 100"),
    "an absent member has no answers": _("an absent member has no answers"),
    "a screened household needs its members' answers": _("a screened household needs its members' answers"),
    "an absent or refusing household has no answers": _("an absent or refusing household has no answers"),
    "no such household in your jurisdiction": _("no such household in your jurisdiction"),
    "is outside the campaign's dates": _("is outside the campaign's dates"),
    "this id was already used for another visit": _("this form was already used for another visit"),
}


def service_message(message: str) -> str:
    return str(SERVICE_MESSAGES.get(message, message))


def _date_or_error(form: forms.Form, name: str):
    text = form.cleaned_data.get(name) or ""
    if not text.strip():
        return None
    try:
        return parse_date(text)[0]
    except InvalidDate:
        form.add_error(name, _("not a date: use 1403/05/12 or 2024-08-02"))
        return None


class VisitForm(forms.Form):
    # Generated when the form is rendered: a second submit of the same form is the same visit (stored once).
    visit_id = forms.UUIDField(widget=forms.HiddenInput)
    visit_date = forms.CharField(
        label=_("Visit date"),
        max_length=40,
        help_text=_("Jalali 1403/05/12 or Gregorian 2024-08-02"),
        widget=forms.TextInput(attrs={"dir": "ltr", "autocomplete": "off"}),
    )
    status = forms.ChoiceField(
        label=_("Visit"), choices=VisitStatus.choices, widget=forms.RadioSelect, initial=VisitStatus.SCREENED
    )
    needs = checkboxes(_("Needs noticed"), NEED_LABELS)
    note = forms.CharField(
        label=_("Note"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("visit_id", uuid.uuid4())

    def clean(self):
        cleaned = super().clean()
        if "visit_date" in cleaned:
            cleaned["visit_date_parsed"] = _date_or_error(self, "visit_date")
            if cleaned["visit_date_parsed"] is None and "visit_date" not in self.errors:
                self.add_error("visit_date", _("is required"))
        return cleaned


class MemberForm(forms.Form):
    """One household member's answers; prefixed by the person's id so each answer reaches its person."""

    present = forms.BooleanField(label=_("present"), required=False, initial=True)
    symptoms = checkboxes(_("Symptoms"), SYMPTOM_LABELS)
    onset_date = forms.CharField(
        label=_("Onset date"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"dir": "ltr", "autocomplete": "off"}),
    )
    spo2 = forms.IntegerField(
        label=_("SpO2 (%)"),
        required=False,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "dir": "ltr"}),
    )
    known_contact = forms.BooleanField(label=_("contact with a case"), required=False)

    def __init__(self, *args, person, **kwargs):
        super().__init__(*args, prefix=f"m-{person.pk}", **kwargs)
        self.person = person

    def clean(self):
        cleaned = super().clean()
        cleaned["onset_date_parsed"] = _date_or_error(self, "onset_date")
        return cleaned

    def item(self) -> dict:
        data = self.cleaned_data
        present = bool(data.get("present"))
        return {
            "person_id": self.person.pk,
            "present": present,
            "symptoms": list(data.get("symptoms") or []),
            "onset_date": data.get("onset_date_parsed"),
            "spo2": data.get("spo2"),
            "known_contact": bool(data.get("known_contact")),
        }
