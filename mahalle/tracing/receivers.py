"""How tracing answers the events of the cases side (cases.events); connected in TracingConfig.ready()."""

from mahalle.cases import events

from .services import case_created


def link_case(sender, *, actor, case, **kwargs) -> None:
    """A new or newly confirmed case joins its transmission chain; its household is listed as contacts."""
    case_created(actor=actor, case=case)


def connect() -> None:
    events.case_created.connect(link_case, dispatch_uid="tracing.link_case.created")
    events.case_confirmed.connect(link_case, dispatch_uid="tracing.link_case.confirmed")
