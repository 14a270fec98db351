"""Demo data for the areas built on the registry and the cases: partner agencies, needs and vulnerability scores,
traced contacts and chains, and an aid program with stock and a computed cycle. Idempotent: it does nothing when
the demo agencies exist. Everything goes through the areas' own services, as a coordinator would do it."""

import datetime as dt

from django.utils import timezone

from mahalle.accounts.models import User
from mahalle.aid import services as aid
from mahalle.aid.models import AidKind, Cadence
from mahalle.cases.models import Case, Classification
from mahalle.geo.models import Level, OrgUnit
from mahalle.needs.models import Agency, AgencyKind, AgencyMember
from mahalle.needs.services import household_vulnerability_refresh, needs_catch_up
from mahalle.tracing.services import case_created

DEMO_AGENCIES = [
    ("relief-committee", "کمیته امداد", AgencyKind.RELIEF_COMMITTEE),
    ("red-crescent", "جمعیت هلال احمر", AgencyKind.RED_CRESCENT),
    ("barakat-foundation", "بنیاد برکت", AgencyKind.FOUNDATION),
]
TRACED_CASES = 40  # the most recent cases of the demo county get their household contacts listed


def demo_areas_seed(*, post: OrgUnit) -> dict | None:
    if Agency.objects.filter(code=DEMO_AGENCIES[0][0]).exists():
        return None
    county = post
    while county.level > Level.COUNTY:
        county = county.parent
    national = User.objects.get(username="national")
    today = timezone.localdate()

    agencies = [
        Agency.objects.create(code=code, name=name, kind=kind, org_unit=county)
        for code, name, kind in DEMO_AGENCIES
    ]
    for username in ("partner", "supervisor"):
        AgencyMember.objects.get_or_create(agency=agencies[0], user=User.objects.get(username=username))
    needs = needs_catch_up(since=today - dt.timedelta(days=60))
    scored = household_vulnerability_refresh()

    cases = (
        Case.objects.within(county.path)
        .exclude(classification=Classification.DISCARDED)
        .order_by("-created_at")[:TRACED_CASES]
    )
    contacts = sum(case_created(actor=None, case=case)["listed"] for case in cases)

    item = aid.item_create(actor=national, code="livelihood-pack", name="بسته معیشتی")
    county_store = aid.warehouse_create(actor=national, code="demo-county", name="انبار شهرستان", org_unit=county)
    post_store = aid.warehouse_create(actor=national, code="demo-post", name="انبار پایگاه", org_unit=post)
    aid.stock_receive(actor=national, warehouse=county_store, item=item, quantity=2000, source="demo donation")
    aid.stock_transfer(actor=national, source=county_store, target=post_store, item=item, quantity=300)
    program = aid.program_create(
        actor=national,
        code="livelihood-winter",
        name="بسته معیشتی زمستان",
        kind=AidKind.IN_KIND,
        category="livelihood",
        agency=agencies[0],
        org_unit=county,
        rule={"need_kinds": ["food", "income_loss"]},
        start_date=today.replace(day=1),
        cadence=Cadence.MONTHLY,
        cycles=3,
        item=item,
    )
    cycle = program.cycle_set.order_by("number").first()
    aid.cycle_run_request(actor=national, cycle=cycle)
    cycle = aid.cycle_compute(cycle_id=cycle.pk)
    return {
        "agencies": len(agencies),
        "needs": needs.get("needs_created", 0),
        "households_scored": scored,
        "contacts": contacts,
        "entitlements": cycle.households_total,
    }
