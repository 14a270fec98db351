"""Tracing's rules and numbers: how long a contact is followed, how old an exposure may be, when an event is a
superspreading one, and why a contact with symptoms is referred for a test.

The numbers are configurable through settings.MAHALLE_TRACING (a dict; a missing key takes its default).
"""

from django.conf import settings

DEFAULTS = {"FOLLOW_UP_DAYS": 14, "SUPERSPREADING_CASES": 5, "MAX_EXPOSURE_AGE_DAYS": 30}
MAX_ATTENDEES = 20_000  # attendees of an event added in one request
REFERRAL_REASON = {"code": "contact_symptoms", "en": "contact of a case with symptoms", "fa": "تماس با علامت"}


def tracing_setting(name: str) -> int:
    return {**DEFAULTS, **getattr(settings, "MAHALLE_TRACING", {})}[name]
