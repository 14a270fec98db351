import datetime as dt
import uuid

import pytest
from django.utils import timezone

from mahalle.accounts.models import Role
from mahalle.screening.services import campaign_create


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def campaign_a(users, tree, today):
    """An active campaign over county a (posts a1, a2), created by its coordinator."""
    return campaign_create(
        actor=users[Role.COUNTY_COORDINATOR],
        name="دور ۳",
        start_date=today - dt.timedelta(days=7),
        end_date=today + dt.timedelta(days=7),
        org_units=[tree["county_a"]],
    )


@pytest.fixture
def campaign_b(users, tree, today):
    """An active campaign over province b only."""
    return campaign_create(
        actor=users[Role.NATIONAL_COORDINATOR],
        name="دور ب",
        start_date=today - dt.timedelta(days=3),
        end_date=today + dt.timedelta(days=3),
        org_units=[tree["province_b"]],
    )


def visit_json(person, on, campaign=None, **member) -> dict:
    """A field-batch visit item as a phone sends it (JSON types only)."""
    return {
        "id": str(uuid.uuid4()),
        "household_id": str(person.household_id),
        "visit_date": on.isoformat(),
        "status": "screened",
        **({"campaign_id": str(campaign.pk)} if campaign else {}),
        "members": [{"person_id": str(person.pk), "symptoms": [], **member}],
    }
