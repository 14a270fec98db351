"""Forms of the cases pages. They only carry values to the services, which do the validating."""

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from mahalle.core.display import number

from .models import Classification, FollowUp, Isolation, Outcome, QuarantinePlace, TestKind, TestResult
from .rules import NEED_KINDS, SYMPTOMS

DATE_INPUT = forms.DateInput(attrs={"type": "date", "dir": "ltr"}, format="%Y-%m-%d")

# Labels of the vocabularies of cases.rules (a word without one fails at import); as choices, in order.
SYMPTOM_NAMES = {
    "fever": _("fever"),
    "cough": _("cough"),
    "shortness_of_breath": _("shortness of breath"),
    "loss_of_smell_taste": _("loss of smell or taste"),
    "sore_throat": _("sore throat"),
    "fatigue": _("fatigue"),
    "diarrhoea": _("diarrhoea"),
}
NEED_NAMES = {
    "food": _("food"),
    "hygiene": _("hygiene supplies"),
    "income": _("income"),
    "medical_equipment": _("medical equipment"),
    "housing": _("housing"),
    "medicine": _("medicine"),
    "other": _("other"),
}
SYMPTOM_LABELS = [(symptom, SYMPTOM_NAMES[symptom]) for symptom in SYMPTOMS]
NEED_LABELS = [(need, NEED_NAMES[need]) for need in NEED_KINDS]


def checkboxes(label, choices) -> forms.MultipleChoiceField:
    """An optional multiple choice shown as checkboxes (the symptoms and the needs of a phone's forms)."""
    return forms.MultipleChoiceField(
        label=label, choices=choices, required=False, widget=forms.CheckboxSelectMultiple
    )


def add_service_errors(form, field_errors: list, detail: str = "") -> None:
    """A service's field errors onto the form (the cases and tracing pages): on the field when the form has it
    (a form's `service_fields` maps the services' names, as the API has them, to its own), else on the whole
    form; `detail`, the refusal's summary, on the whole form when no field error came with it."""
    names = getattr(form, "service_fields", {})
    for error in field_errors:
        field = names.get(error["field"], error["field"])
        form.add_error(field if field in form.fields else None, error["message"])
    if detail and not field_errors:
        form.add_error(None, detail)


class DailyFollowUpForm(forms.Form):
    """A day's follow-up on a phone (an isolated person's here, a contact's in tracing), sent as one item of the
    phone-batch service: the form's values, the id of the followed record (`subject_field`) and the day."""

    subject_field = ""
    # Generated when the form is shown: submitting twice (a double tap, a resend) stores one follow-up.
    id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def item(self, subject, *, day) -> dict:
        return {**self.cleaned_data, self.subject_field: subject.pk, "date": day}


class FollowUpForm(DailyFollowUpForm):
    subject_field = "isolation_id"
    method = forms.ChoiceField(label=_("How"), choices=FollowUp.Method.choices, initial=FollowUp.Method.CALL)
    reached = forms.TypedChoiceField(
        label=_("Reached"),
        choices=[("yes", _("reached")), ("no", _("not reached"))],
        coerce=lambda v: v == "yes",
        initial="yes",
        widget=forms.RadioSelect,
    )
    symptoms = checkboxes(_("Symptoms today"), SYMPTOM_LABELS)
    spo2 = forms.IntegerField(
        label=_("SpO2 (%)"),
        required=False,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "dir": "ltr"}),
        help_text=_("leave empty when no pulse oximeter was used"),
    )
    needs = checkboxes(_("Needs noticed"), NEED_LABELS)


class SampleForm(forms.Form):
    sample_id = forms.CharField(label=_("Sample id"), max_length=64)
    kind = forms.ChoiceField(label=_("Test"), choices=TestKind.choices)
    lab = forms.CharField(label=_("Laboratory"), max_length=200, required=False)


class ResultForm(forms.Form):
    result = forms.ChoiceField(label=_("Result"), choices=TestResult.choices)
    result_date = forms.DateField(label=_("Result date"), widget=forms.DateInput(attrs={"type": "date"}))


class ClassificationForm(forms.Form):
    classification = forms.ChoiceField(label=_("Classification"), choices=Classification.choices)
    reason = forms.CharField(label=_("Reason"), max_length=500)


class PlaceChoiceField(forms.ModelChoiceField):
    """A quarantine place shown with its free places, so a full one is visible before choosing it."""

    def label_from_instance(self, obj):
        if obj.free:
            return _("%(name)s — %(free)s of %(capacity)s places free") % {
                "name": obj.name,
                "free": number(obj.free),
                "capacity": number(obj.capacity),
            }
        return _("%(name)s — full") % {"name": obj.name}


class IsolationStartForm(forms.Form):
    setting = forms.ChoiceField(
        label=_("Where"),
        choices=Isolation.Setting.choices,
        initial=Isolation.Setting.HOME,
        widget=forms.RadioSelect,
    )
    place = PlaceChoiceField(
        label=_("Quarantine place"),
        queryset=QuarantinePlace.objects.none(),
        required=False,
        empty_label=_("— none (at home) —"),
    )
    start_date = forms.DateField(label=_("Start date"), widget=DATE_INPUT)
    onset_date = forms.DateField(
        label=_("Onset of symptoms"),
        required=False,
        widget=DATE_INPUT,
        help_text=_("leave empty to use the case's onset"),
    )
    last_symptom_date = forms.DateField(label=_("Last day with symptoms"), required=False, widget=DATE_INPUT)

    # The services name fields as the API does; this maps their names to this form's.
    service_fields = {"place_id": "place"}

    def __init__(self, *args, places=None, **kwargs):
        super().__init__(*args, **kwargs)
        if places is not None:
            self.fields["place"].queryset = places


class IsolationReleaseForm(forms.Form):
    on = forms.DateField(label=_("Release date"), widget=DATE_INPUT)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)


class HospitalisationForm(forms.Form):
    on = forms.DateField(label=_("Admitted on"), widget=DATE_INPUT)
    reason = forms.CharField(label=_("Note"), max_length=500, required=False)


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[(Outcome.RECOVERED, _("recovered")), (Outcome.DIED, _("died"))],
        widget=forms.RadioSelect,
    )
    on = forms.DateField(label=_("Date"), widget=DATE_INPUT)
    reason = forms.CharField(label=_("Note"), max_length=500, required=False)


class QuarantinePlaceForm(forms.Form):
    org_unit = forms.CharField(
        label=_("Org unit code"),
        max_length=64,
        widget=forms.TextInput(attrs={"dir": "ltr", "autocapitalize": "off"}),
        help_text=_("the code of the unit the place serves (a county, district, neighborhood or post)"),
    )
    name = forms.CharField(label=_("Name"), max_length=200)
    capacity = forms.IntegerField(
        label=_("Capacity"),
        min_value=1,
        max_value=100_000,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
