"""Forms of the cases pages. They only carry values to the services, which do the validating."""

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Classification, FollowUp, TestKind, TestResult

SYMPTOM_LABELS = [
    ("fever", _("fever")),
    ("cough", _("cough")),
    ("shortness_of_breath", _("shortness of breath")),
    ("loss_of_smell_taste", _("loss of smell or taste")),
    ("sore_throat", _("sore throat")),
    ("fatigue", _("fatigue")),
    ("diarrhoea", _("diarrhoea")),
]
NEED_LABELS = [
    ("food", _("food")),
    ("hygiene", _("hygiene supplies")),
    ("income", _("income")),
    ("medical_equipment", _("medical equipment")),
    ("housing", _("housing")),
    ("medicine", _("medicine")),
    ("other", _("other")),
]


class FollowUpForm(forms.Form):
    # Generated when the form is shown: submitting twice (a double tap, a resend) stores one follow-up.
    id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    method = forms.ChoiceField(label=_("How"), choices=FollowUp.Method.choices, initial=FollowUp.Method.CALL)
    reached = forms.TypedChoiceField(
        label=_("Reached"),
        choices=[("yes", _("reached")), ("no", _("not reached"))],
        coerce=lambda v: v == "yes",
        initial="yes",
        widget=forms.RadioSelect,
    )
    symptoms = forms.MultipleChoiceField(
        label=_("Symptoms today"), choices=SYMPTOM_LABELS, required=False, widget=forms.CheckboxSelectMultiple
    )
    spo2 = forms.IntegerField(
        label=_("SpO2 (%)"),
        required=False,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "dir": "ltr"}),
        help_text=_("leave empty when no pulse oximeter was used"),
    )
    needs = forms.MultipleChoiceField(
        label=_("Needs noticed"), choices=NEED_LABELS, required=False, widget=forms.CheckboxSelectMultiple
    )

    def item(self, *, isolation, day) -> dict:
        data = self.cleaned_data
        return {
            "id": data["id"],
            "isolation_id": isolation.pk,
            "date": day,
            "method": data["method"],
            "reached": data["reached"],
            "symptoms": data["symptoms"],
            "spo2": data["spo2"],
            "needs": data["needs"],
        }


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
