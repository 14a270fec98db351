"""Forms of the registry pages. They only carry text to the services: person_clean does the validating, so a
form, the API and an import accept and refuse exactly the same input."""

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from mahalle.core.dates import PRECISION_YEAR, to_jalali_str

from .models import Relation, Sex

# Field errors of the services, written in English in the domain code, shown translated next to the field.
SERVICE_MESSAGES = {
    "is required": _("is required"),
    "is in the future": _("is in the future"),
    "is before 1880": _("is before 1880"),
    "a person with this national code is already registered": _(
        "a person with this national code is already registered"
    ),
    "contains characters not allowed in a name (< > { })": _(
        "contains characters not allowed in a name (< > { })"
    ),
    "longer than 100 characters": _("longer than 100 characters"),
    "must be M or F (مرد / زن)": _("choose male or female"),
}


def service_message(message: str) -> str:
    return str(SERVICE_MESSAGES.get(message, message))


# Above this many posts in the user's jurisdiction the post is typed as a code rather than chosen from a list.
POST_SELECT_LIMIT = 200


class PersonForm(forms.Form):
    post = forms.ModelChoiceField(queryset=None, label=_("Health post"), empty_label="—")
    # Required-ness and every other rule are the service's (person_clean), so all errors show at once.
    first_name = forms.CharField(
        label=_("First name"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"required": True}),
    )
    last_name = forms.CharField(
        label=_("Last name"), max_length=200, required=False, widget=forms.TextInput(attrs={"required": True})
    )
    father_name = forms.CharField(label=_("Father's name"), max_length=200, required=False)
    national_code = forms.CharField(
        label=_("National code"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "dir": "ltr"}),
    )
    mobile = forms.CharField(
        label=_("Mobile"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off", "dir": "ltr"}),
    )
    sex = forms.ChoiceField(label=_("Sex"), choices=[("", "—"), *Sex.choices], required=False)
    birth_date = forms.CharField(
        label=_("Birth date"),
        max_length=40,
        required=False,
        help_text=_("Jalali 1365/04/21, Gregorian 1986-07-12, or a year alone"),
        widget=forms.TextInput(attrs={"dir": "ltr", "autocomplete": "off"}),
    )
    relation_to_head = forms.ChoiceField(
        label=_("Relation to head of household"), choices=[("", "—"), *Relation.choices], required=False
    )
    chronic_disease = forms.BooleanField(label=_("chronic disease"), required=False)
    disability = forms.BooleanField(label=_("disability"), required=False)
    pregnant = forms.BooleanField(label=_("pregnant"), required=False)

    SERVICE_FIELDS = (
        "first_name",
        "last_name",
        "father_name",
        "national_code",
        "mobile",
        "sex",
        "birth_date",
        "relation_to_head",
        "chronic_disease",
        "disability",
        "pregnant",
    )

    def __init__(self, *args, posts=None, **kwargs):
        super().__init__(*args, **kwargs)
        if posts is None:
            del self.fields["post"]
        else:
            field = self.fields["post"]
            field.queryset = posts
            if posts.count() > POST_SELECT_LIMIT:
                # A coordinator's jurisdiction can hold thousands of posts: type the post's code instead.
                field.to_field_name = "code"
                field.widget = forms.TextInput(attrs={"dir": "ltr", "autocomplete": "off"})
                field.help_text = _("the code of the health post")
            else:
                language = (get_language() or "fa")[:2]
                field.label_from_instance = lambda unit: unit.name(language)

    def service_data(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self.SERVICE_FIELDS}

    def add_service_errors(self, errors: list[dict]) -> None:
        for error in errors:
            field = error.get("field")
            field = "post" if field == "org_unit" else field
            self.add_error(field if field in self.fields else None, service_message(error["message"]))

    @staticmethod
    def initial_for(person, *, persian: bool) -> dict:
        birth = ""
        if person.birth_date:
            if persian:
                birth = to_jalali_str(
                    person.birth_date, persian_digits=False, precision=person.birth_date_precision
                )
            elif person.birth_date_precision == PRECISION_YEAR:
                birth = str(person.birth_date.year)
            else:
                birth = person.birth_date.isoformat()
        return {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "father_name": person.father_name,
            "national_code": person.national_code or "",
            "mobile": person.mobile,
            "sex": person.sex,
            "birth_date": birth,
            "relation_to_head": person.relation_to_head,
            "chronic_disease": person.chronic_disease,
            "disability": person.disability,
            "pregnant": person.pregnant,
        }
