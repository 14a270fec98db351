"""Forms of the tracing pages. They only carry values to the services, which do the validating."""

from django import forms
from django.utils.translation import gettext_lazy as _

from mahalle.cases.forms import SYMPTOM_LABELS, DailyFollowUpForm, checkboxes

from .models import Closeness, ContactFollowUp, Setting

DATE_INPUT = forms.DateInput(attrs={"type": "date", "dir": "ltr"}, format="%Y-%m-%d")


class ContactAddForm(forms.Form):
    national_code = forms.CharField(
        label=_("National code"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "dir": "ltr"}),
    )
    mobile = forms.CharField(
        label=_("Mobile"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "dir": "ltr"}),
    )
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    last_exposure = forms.DateField(label=_("Last exposure"), widget=DATE_INPUT)
    setting = forms.ChoiceField(label=_("Setting"), choices=Setting.choices)
    closeness = forms.ChoiceField(
        label=_("Closeness"), choices=Closeness.choices, initial=Closeness.CLOSE, required=False
    )


class RemoveForm(forms.Form):
    reason = forms.CharField(label=_("Why"), max_length=200)


class ContactFollowUpForm(DailyFollowUpForm):
    subject_field = "contact_id"
    status = forms.ChoiceField(
        label=_("Today"),
        choices=ContactFollowUp.Status.choices,
        initial=ContactFollowUp.Status.WELL,
        widget=forms.RadioSelect,
    )
    symptoms = checkboxes(_("Symptoms today"), SYMPTOM_LABELS)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)
