"""The demo: database, geography, a synthetic population and one user per role, ready to log in."""

from django.core.management import call_command
from django.db import transaction

from mahalle.accounts.models import Role, User
from mahalle.accounts.services import user_create
from mahalle.geo.models import Level, OrgUnit
from mahalle.geo.services import COUNTRY_CODE, geography_load_reference
from mahalle.registry.models import Person
from mahalle.screening.models import ScreeningVisit

from .activity import activity_simulate
from .demo_areas import demo_areas_seed
from .geography import geography_generate
from .services import synth_population_write

DEMO_PASSWORD = "mahalle-demo-1404"  # noqa: S105 (printed to the operator on purpose; demo databases only)
DEMO_PERSONS = 100_000
DEMO_SEED = 1
DEMO_ACTIVITY_WEEKS = 4
# username, role, where the user sits relative to the demo post
DEMO_USERS = [
    ("volunteer", Role.FIELD_VOLUNTEER, Level.POST),
    ("supervisor", Role.POST_SUPERVISOR, Level.POST),
    ("county", Role.COUNTY_COORDINATOR, Level.COUNTY),
    ("province", Role.PROVINCE_COORDINATOR, Level.PROVINCE),
    ("national", Role.NATIONAL_COORDINATOR, Level.COUNTRY),
    ("partner", Role.PARTNER_STAFF, Level.COUNTY),
    ("analyst", Role.ANALYST, Level.COUNTRY),
    ("admin", Role.ADMINISTRATOR, Level.COUNTRY),
]


def demo_post() -> OrgUnit:
    """The post the demo volunteer works in: the first (by path) that has people; one is generated if none."""
    org_unit_id = Person.objects.order_by("org_path").values_list("org_unit_id", flat=True).first()
    if org_unit_id is not None:
        return OrgUnit.objects.get(pk=org_unit_id)
    post = OrgUnit.objects.filter(level=Level.POST).order_by("path").first()
    if post is None:
        county = OrgUnit.objects.filter(level=Level.COUNTY).order_by("-population", "code").first()
        post = geography_generate(posts_needed={county.code: 1})[county.code][0]
    return post


@transaction.atomic
def demo_users_ensure(*, password: str = DEMO_PASSWORD) -> list[dict]:
    """One user per role, placed around the demo post. Users that exist are left as they are (idempotent)."""
    post = demo_post()
    ancestors = {Level.POST: post}
    unit = post
    while unit.parent_id is not None:
        unit = unit.parent
        ancestors[unit.level] = unit
    rows = []
    for username, role, level in DEMO_USERS:
        home = ancestors[level]
        existing = User.objects.filter(username=username).first()
        if existing is None:
            user_create(actor=None, username=username, password=password, role=role, org_units=[home])
        rows.append(
            {
                "username": username,
                "role": role.value,
                "org_unit": f"{home.code} {home.name_fa}",
                "password": password if existing is None else "(unchanged: user existed)",
            }
        )
    return rows


def demo_setup(*, persons: int = DEMO_PERSONS, seed: int = DEMO_SEED, progress=None) -> dict:
    """Everything the demo needs, safe to re-run: migrate, geography, population (only into an empty registry),
    users, then four weeks of screening activity ending today (only when no visit is recorded yet; the demo
    volunteer records the visits of posts without a volunteer of their own), then agencies, needs, traced
    contacts and an aid program (demo_areas). Starts nothing."""
    call_command("migrate", interactive=False, verbosity=0)
    if not OrgUnit.objects.filter(code=COUNTRY_CODE).exists():
        geography_load_reference()
    synth = None
    if persons and not Person.objects.exists():
        synth = synth_population_write(persons=persons, seed=seed, progress=progress)
    users = demo_users_ensure()
    activity = None
    if Person.objects.exists() and not ScreeningVisit.objects.exists():
        activity = activity_simulate(
            weeks=DEMO_ACTIVITY_WEEKS, seed=seed, recorder=User.objects.get(username="volunteer")
        )
    areas = demo_areas_seed(post=demo_post()) if Person.objects.exists() else None
    return {
        "synth": synth,
        "persons": Person.objects.count(),
        "users": users,
        "activity": activity,
        "areas": areas,
    }
