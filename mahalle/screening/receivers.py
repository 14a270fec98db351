"""How screening answers the events of the cases side (cases.events); connected in ScreeningConfig.ready()."""

from mahalle.cases import events

from .coverage import coverage_record_positive


def count_positive_in_coverage(sender, *, person, on, **kwargs) -> None:
    """A person's first positive result counts as a positive of the campaign that screened them."""
    coverage_record_positive(person=person, on=on)


def connect() -> None:
    events.positive_result_recorded.connect(
        count_positive_in_coverage, dispatch_uid="screening.count_positive_in_coverage"
    )
