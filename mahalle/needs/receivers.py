"""How needs answers the events of the cases side (cases.events); connected in NeedsConfig.ready()."""

from mahalle.cases import events

from .services import needs_record_from_death


def record_death(sender, *, actor, case, **kwargs) -> None:
    """A household head's death: the household lost its breadwinner (the aid side's 12-month support)."""
    needs_record_from_death(actor=actor, case=case)


def connect() -> None:
    events.case_died.connect(record_death, dispatch_uid="needs.record_death")
