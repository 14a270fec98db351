"""The generated geography below the counties: districts, neighborhoods and health posts at a fixed layout.

`geography_generate` writes org units with no audit event of its own: `synth_population_write` (a service)
records the run it belongs to; the demo and `mahalle synth --persons 0 --full-geography` write the tree alone.
"""

import math

from django.db import transaction
from django.db.models import Sum

from mahalle.core.persian import to_persian_digits
from mahalle.core.synthetic import STREETS
from mahalle.geo.models import Level, OrgUnit

from .population import PEOPLE_PER_POST

POSTS_PER_NEIGHBORHOOD = 4
NEIGHBORHOODS_PER_DISTRICT = 25
BATCH_SIZE = 2000


def posts_for_population(population: int) -> int:
    return max(1, math.ceil(population / PEOPLE_PER_POST))


def _post_numbers(number: int) -> tuple[int, int, int]:
    per_district = POSTS_PER_NEIGHBORHOOD * NEIGHBORHOODS_PER_DISTRICT
    return (
        number // per_district + 1,
        number % per_district // POSTS_PER_NEIGHBORHOOD + 1,
        number % POSTS_PER_NEIGHBORHOOD + 1,
    )


def post_unit_codes(county_code: str, number: int) -> tuple[str, str, str]:
    """(district, neighborhood, post) codes of a county's post number `number` (0-based): a fixed layout, so a
    post's code never depends on how many posts were generated before it."""
    district, hood, post = _post_numbers(number)
    d = f"{county_code}-{district:02d}"
    n = f"{d}-{hood:03d}"
    return d, n, f"{n}-{post:02d}"


@transaction.atomic
def geography_generate(*, posts_needed: dict[str, int]) -> dict[str, list[OrgUnit]]:
    """Make sure each county has at least its first `posts_needed[code]` posts (with their districts and
    neighborhoods); create only what is missing, level by level with bulk_create. Returns the posts per county.

    A post's `population` is its real-scale share of the county (about 1,500), whatever the synthetic headcount;
    a new district's or neighborhood's is the sum over the posts created with it.
    """
    counties = {u.code: u for u in OrgUnit.objects.filter(level=Level.COUNTY, code__in=list(posts_needed))}
    missing = set(posts_needed) - set(counties)
    if missing:
        raise ValueError(f"unknown counties: {', '.join(sorted(missing))} (load the geography first)")
    existing = {u.code: u for u in OrgUnit.objects.filter(level__gte=Level.DISTRICT)}
    # code -> (level, parent code, name_fa, name_en, population), in creation order
    plans: dict[str, list] = {}
    for code, count in posts_needed.items():
        county = counties[code]
        real_posts = posts_for_population(county.population)
        for j in range(count):
            d_code, n_code, p_code = post_unit_codes(code, j)
            if p_code in existing:
                continue
            d_no, n_no, p_no = _post_numbers(j)
            pop = county.population // real_posts + (1 if j < county.population % real_posts else 0)
            word = STREETS[(int(code) * 7 + d_no * 5 + n_no) % len(STREETS)]
            n_fa = f"{to_persian_digits(n_no)}"
            specs = (
                (
                    Level.DISTRICT,
                    d_code,
                    code,
                    f"ناحیه {to_persian_digits(d_no)} {county.name_fa}",
                    f"{county.name_en} district {d_no}",
                ),
                (
                    Level.NEIGHBORHOOD,
                    n_code,
                    d_code,
                    f"محله {word} {n_fa}",
                    f"{county.name_en} neighborhood {d_no}-{n_no}",
                ),
                (
                    Level.POST,
                    p_code,
                    n_code,
                    f"پایگاه سلامت {word} {n_fa}-{to_persian_digits(p_no)}",
                    f"{county.name_en} health post {d_no}-{n_no}-{p_no}",
                ),
            )
            for level, unit_code, parent_code, name_fa, name_en in specs:
                if unit_code in existing:
                    continue
                if unit_code in plans:
                    plans[unit_code][4] += pop
                else:
                    plans[unit_code] = [level, parent_code, name_fa, name_en, pop]
    parents: dict[str, OrgUnit] = {**counties, **existing}
    for level in (Level.DISTRICT, Level.NEIGHBORHOOD, Level.POST):
        units = [
            OrgUnit(
                code=unit_code,
                level=level,
                name_fa=name_fa,
                name_en=name_en,
                parent=parents[parent_code],
                path=OrgUnit.build_path(parents[parent_code], unit_code),
                population=pop,
            )
            for unit_code, (lvl, parent_code, name_fa, name_en, pop) in plans.items()
            if lvl == level
        ]
        created = OrgUnit.objects.bulk_create(units, batch_size=BATCH_SIZE)
        if created and created[0].pk is None:  # a backend that cannot return keys: read them back
            by_code = OrgUnit.objects.in_bulk([u.code for u in created], field_name="code")
            created = [by_code[u.code] for u in created]
        parents.update((u.code, u) for u in created)
    # A unit that existed before and got new children: its population is the sum over its children again.
    for level in (Level.NEIGHBORHOOD, Level.DISTRICT):
        grown = {plans[c][1] for c in plans if plans[c][0] == level + 1} & set(existing)
        if grown:
            units = [existing[c] for c in grown]
            sums = dict(
                OrgUnit.objects.filter(parent__in=units)
                .values_list("parent")
                .annotate(total=Sum("population"))
            )
            for unit in units:
                unit.population = sums.get(unit.pk, 0)
            OrgUnit.objects.bulk_update(units, ["population"], batch_size=BATCH_SIZE)
    return {
        code: [parents[post_unit_codes(code, j)[2]] for j in range(n)] for code, n in posts_needed.items()
    }


def geography_generate_full() -> dict:
    """The whole national tree at real scale: about one post per 1,500 people in every county."""
    needed = {u.code: posts_for_population(u.population) for u in OrgUnit.objects.filter(level=Level.COUNTY)}
    posts = geography_generate(posts_needed=needed)
    return {"counties": len(posts), "posts": sum(len(p) for p in posts.values())}
