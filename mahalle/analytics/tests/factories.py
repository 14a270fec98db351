import datetime as dt

from mahalle.cases.models import Case


def cases_by_day(person, start: dt.date, counts, *, classification="confirmed") -> list[Case]:
    """`counts[i]` cases with onset on start + i days, all of `person` (closed as recovered, so that the
    one-open-case-per-person rule lets one person carry many synthetic cases)."""
    cases = [
        Case(
            person=person,
            classification=classification,
            onset_date=start + dt.timedelta(days=i),
            outcome="recovered",
            org_unit_id=person.org_unit_id,
            org_path=person.org_path,
        )
        for i, n in enumerate(counts)
        for _ in range(n)
    ]
    return Case.objects.bulk_create(cases)
