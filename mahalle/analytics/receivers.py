"""How analytics answers the events of the cases side (cases.events); connected in AnalyticsConfig.ready()."""

from mahalle.cases import events

from .tasks import rt_refresh_after_commit


def refresh_rt(sender, *, org_unit_ids, **kwargs) -> None:
    """Cases created or reclassified: Rt of their provinces and counties is refreshed once the transaction
    commits (one task per transaction)."""
    rt_refresh_after_commit(org_unit_ids=org_unit_ids)


def connect() -> None:
    events.cases_changed.connect(refresh_rt, dispatch_uid="analytics.refresh_rt")
