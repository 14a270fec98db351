from django.db import transaction
from django_tasks import task

from .coverage import coverage_refresh
from .models import Campaign


@task()
def refresh_campaign_coverage(campaign_id: str) -> int:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    return coverage_refresh(campaign=campaign) if campaign is not None else 0


def campaign_coverage_refresh_after_commit(campaign_id) -> None:
    """Queue the coverage rows of a new campaign, built once its creation is committed (called by the API)."""
    transaction.on_commit(lambda: refresh_campaign_coverage.enqueue(str(campaign_id)))
