from django_tasks import task

from .models import Campaign
from .services import coverage_refresh


@task()
def refresh_campaign_coverage(campaign_id: str) -> int:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    return coverage_refresh(campaign=campaign) if campaign is not None else 0
