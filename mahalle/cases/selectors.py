"""Reads of the health side, scoped to the acting user's jurisdiction."""

import datetime as dt

from django.db.models import Exists, OuterRef

from mahalle.accounts.selectors import personal_data_paths

from .models import Alert, FollowUp, Isolation, TestOrder


def isolations_active(*, user):
    return Isolation.objects.within_any(personal_data_paths(user=user)).filter(released_on=None)


def follow_ups_due(*, user, on: dt.date):
    """Active isolations (in the user's jurisdiction) that have no follow-up dated `on` yet."""
    done = FollowUp.objects.filter(isolation=OuterRef("pk"), date=on)
    return (
        isolations_active(user=user)
        .filter(start_date__lte=on)
        .exclude(Exists(done))
        .select_related("person", "person__household")
        .order_by("planned_end_date", "id")
    )


def referrals_untested(*, user):
    """Test orders from referrals that have no result yet, urgent first."""
    return (
        TestOrder.objects.within_any(personal_data_paths(user=user))
        .filter(status__in=[TestOrder.Status.ORDERED, TestOrder.Status.SAMPLED])
        .select_related("person")
        .order_by("-urgent", "created_at")
    )


def alerts_open(*, user):
    return (
        Alert.objects.within_any(personal_data_paths(user=user))
        .filter(resolved_at=None)
        .select_related("person")
        .order_by("-created_at")
    )
