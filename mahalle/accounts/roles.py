"""The roles a user may have. What each role may do is in accounts.capabilities."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    FIELD_VOLUNTEER = "field_volunteer", _("field volunteer")
    POST_SUPERVISOR = "post_supervisor", _("post supervisor")
    COUNTY_COORDINATOR = "county_coordinator", _("county coordinator")
    PROVINCE_COORDINATOR = "province_coordinator", _("province coordinator")
    NATIONAL_COORDINATOR = "national_coordinator", _("national coordinator")
    PARTNER_STAFF = "partner_staff", _("partner-agency staff")
    ANALYST = "analyst", _("analyst")
    ADMINISTRATOR = "administrator", _("administrator")
