"""Tracing test data, written straight to the models (the services are what the tests exercise)."""

import datetime as dt
import uuid

from django.utils import timezone

from mahalle.cases.tests.factories import case_for
from mahalle.registry.tests.factories import PersonFactory
from mahalle.tracing.models import Contact
from mahalle.tracing.services.clusters import _chain_case

__all__ = ["case_for", "contact_for", "member_of"]


def member_of(person, **kwargs):
    """Another person in `person`'s household (and post)."""
    return PersonFactory(
        org_unit=person.org_unit, household=person.household, relation_to_head="child", **kwargs
    )


def contact_for(case, person, *, last_exposure=None, status=Contact.Status.CONFIRMED, **kwargs) -> Contact:
    exposure = last_exposure or timezone.localdate() - dt.timedelta(days=2)
    return Contact.objects.create(
        id=uuid.uuid4(),
        case=case,
        person=person,
        last_exposure=exposure,
        setting=kwargs.pop("setting", "household"),
        source=kwargs.pop("source", Contact.Source.ADDED),
        status=status,
        follow_up_end=exposure + dt.timedelta(days=14),
        quarantine_start=exposure if status == Contact.Status.CONFIRMED else None,
        org_unit_id=person.org_unit_id,
        org_path=person.org_path,
        cluster_id=kwargs.pop("cluster_id", None) or _chain_case(case),
        **kwargs,
    )
