"""Writes for the synthetic population: the generated geography below counties, persons and households.

These are operator tools (the `mahalle synth` command, the demo), not user actions: they bulk-insert and
record one audit event per run instead of one per row.
"""

import csv
import itertools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Sum
from django.utils import timezone

from mahalle.audit.services import audit_record
from mahalle.core.persian import to_persian_digits
from mahalle.core.person_record import PERSON_RECORD_COLUMNS
from mahalle.geo.models import Level, OrgUnit
from mahalle.geo.services import COUNTRY_CODE, geography_load_reference
from mahalle.registry.models import Household, Person
from mahalle.registry.services import person_keys

from .population import (
    PEOPLE_PER_POST,
    RELATION_VALUES,
    SEX_VALUES,
    STREETS,
    Population,
    allocate,
    census_load,
    county_code_prefixes,
    population_generate,
)

DATA_DIR = Path(settings.BASE_DIR) / "data" / "iran"
POSTS_PER_NEIGHBORHOOD = 4
NEIGHBORHOODS_PER_DISTRICT = 25
CSV_COLUMNS = [
    *PERSON_RECORD_COLUMNS,
    "post_code",
    "household_id",
    "relation_to_head",
    "chronic_disease",
    "disability",
    "pregnant",
]
BATCH_SIZE = 2000


def reference_counties(data_dir: Path = DATA_DIR) -> list[dict]:
    """The 429 counties of the 2016 census, in file order (code, names, province, population)."""
    with open(data_dir / "counties_2016.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def county_allocation(persons: int, counties: list[dict], *, seed: int) -> dict[str, int]:
    """Persons per county: ceil(persons / 1,500) posts are placed by systematic sampling proportional to the
    2016 population (a county's expected number of posts is proportional to its size; the start point comes
    from the seed), then the persons are shared evenly over the posts. So 100,000 people fill ~67 posts."""
    sizes = np.array([int(c["population_2016"]) for c in counties], dtype=float)
    n_posts = posts_for_population(persons)
    step = sizes.sum() / n_posts
    start = np.random.default_rng(np.random.SeedSequence(seed).spawn(5)[4]).random() * step
    points = start + step * np.arange(n_posts)
    posts = np.bincount(np.searchsorted(np.cumsum(sizes), points, side="right"), minlength=len(counties))
    counts = allocate(persons, posts) if persons else np.zeros(len(counties), dtype=np.int64)
    return dict(zip((c["county_code"] for c in counties), counts.tolist(), strict=True))


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


def _taken_codes(prefixes: set[int]) -> dict[int, np.ndarray]:
    """National codes already in the database, as {3-digit prefix: 6-digit serials}, so a run never collides."""
    taken: dict[int, list[int]] = {}
    if not Person.objects.exists():
        return {}
    for code in Person.objects.exclude(national_code=None).values_list("national_code", flat=True).iterator():
        prefix = int(code[:3])
        if prefix in prefixes:
            taken.setdefault(prefix, []).append(int(code[3:9]))
    return {p: np.array(sorted(set(s)), dtype=np.int64) for p, s in taken.items()}


def population_for(
    *, persons: int, seed: int, progress: Callable[[int], None] | None = None, taken=None
) -> Population:
    counties = reference_counties()
    counts = county_allocation(persons, counties, seed=seed)
    index = {c["county_code"]: i for i, c in enumerate(counties)}
    prefixes = {code: county_code_prefixes(index[code], len(counties)) for code in counts}
    return population_generate(
        county_counts=counts,
        census=census_load(DATA_DIR / "census2016_county_age_sex.csv"),
        seed=seed,
        county_names={c["county_code"]: c["name_fa"] for c in counties},
        county_prefixes=prefixes,
        taken_codes=taken,
        progress=progress,
    )


def _insert_rows(model, names: list[str], rows, *, progress=None) -> None:
    """Insert tuples (values in the order of `names`) with executemany: bulk_create's per-value preparation
    costs more than the insert itself at this volume. UUIDs and dates are adapted here for the backend; every
    field not named gets its default (created/modified get now)."""
    fields = [model._meta.get_field(name) for name in names]
    now = timezone.now()
    rest = [f for f in model._meta.concrete_fields if f not in fields]
    constants = tuple(
        f.get_db_prep_save(
            now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default(),
            connection,
        )
        for f in rest
    )
    columns = ", ".join(connection.ops.quote_name(f.column) for f in [*fields, *rest])
    table = connection.ops.quote_name(model._meta.db_table)
    placeholders = ", ".join(["%s"] * (len(fields) + len(rest)))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608 (names come from the model)
    native_uuid = connection.features.has_native_uuid_field
    uuid_at = [
        i
        for i, f in enumerate(fields)
        if isinstance(f.target_field if f.is_relation else f, models.UUIDField)
    ]

    def adapt(row):
        if not native_uuid:
            row = list(row)
            for i in uuid_at:
                row[i] = row[i].hex
        return (*row, *constants)

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # COPY: one stream instead of a round trip per row
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for batch in _batched(rows, 5000):
                    for row in batch:
                        copy.write_row(adapt(row))
                    if progress:
                        progress(len(batch))
            return
        for batch in _batched(rows, 5000):
            cursor.executemany(sql, [adapt(row) for row in batch])
            if progress:
                progress(len(batch))


def _batched(iterable, size):
    iterator = iter(iterable)
    while batch := tuple(itertools.islice(iterator, size)):
        yield batch


def synth_population_write(
    *, persons: int, seed: int, full_geography: bool = False, progress: Callable[[int], None] | None = None
) -> dict:
    """Generate `persons` people (deterministic for the seed and the database's codes) and insert them with their
    households and the posts they need. All or nothing: one transaction."""
    if not OrgUnit.objects.filter(code=COUNTRY_CODE).exists():
        geography_load_reference()
    counties = reference_counties()
    all_prefixes = {p for i in range(len(counties)) for p in county_code_prefixes(i, len(counties))}
    population = population_for(persons=persons, seed=seed, taken=_taken_codes(all_prefixes))
    with transaction.atomic():
        posts_total = geography_generate_full()["posts"] if full_geography else None
        posts = geography_generate(posts_needed=population.posts_needed)
        hh_posts = [
            posts[population.county_codes[c]][p]
            for c, p in zip(population.hh_county.tolist(), population.hh_post.tolist(), strict=True)
        ]
        hh_ids = population.uuids(population.n_households)
        person_ids = population.uuids(len(population))
        head = population.hh_head.tolist()
        female_headed = (population.sex[population.hh_head] == 1).tolist()
        mobiles = population.mobile.tolist()
        _insert_rows(
            Household,
            ["id", "org_unit", "org_path", "address", "phone", "head", "female_headed", "lost_income"],
            (
                (hh_ids[h], post.pk, post.path, address, mobiles[head[h]], person_ids[head[h]], female, lost)
                for h, (post, address, female, lost) in enumerate(
                    zip(
                        hh_posts,
                        population.hh_address.tolist(),
                        female_headed,
                        population.hh_lost_income.tolist(),
                        strict=True,
                    )
                )
            ),
        )
        keys: dict[tuple[str, str], dict] = {}

        def person_rows():
            columns = zip(
                population.household.tolist(),
                RELATION_VALUES[population.relation].tolist(),
                population.national_code.tolist(),
                population.first_name.tolist(),
                population.last_name.tolist(),
                population.father_name.tolist(),
                SEX_VALUES[population.sex].tolist(),
                population.birth_date.tolist(),
                mobiles,
                population.chronic_disease.tolist(),
                population.disability.tolist(),
                population.pregnant.tolist(),
                strict=True,
            )
            for i, (h, rel, nc, first, last, father, sex, birth, mobile, chronic, disab, preg) in enumerate(
                columns
            ):
                post = hh_posts[h]
                key = keys.get((first, last))
                if key is None:
                    key = keys[(first, last)] = person_keys({"first_name": first, "last_name": last})
                yield (
                    person_ids[i],
                    post.pk,
                    post.path,
                    hh_ids[h],
                    rel,
                    nc,
                    first,
                    last,
                    father,
                    sex,
                    birth,
                    mobile,
                    chronic,
                    disab,
                    preg,
                    key["name_key"],
                    key["last_name_key"],
                )

        _insert_rows(
            Person,
            [
                "id",
                "org_unit",
                "org_path",
                "household",
                "relation_to_head",
                "national_code",
                "first_name",
                "last_name",
                "father_name",
                "sex",
                "birth_date",
                "mobile",
                "chronic_disease",
                "disability",
                "pregnant",
                "name_key",
                "last_name_key",
            ],
            person_rows(),
            progress=progress,
        )
        result = {
            "persons": len(population),
            "households": population.n_households,
            "counties": len(population.county_codes),
            "posts_used": sum(population.posts_needed.values()),
            "seed": seed,
        }
        if posts_total is not None:
            result["posts_total"] = posts_total
        audit_record(actor=None, action="synth", object_type="registry.person", details=result)
    return result


def synth_population_csv(
    *, persons: int, seed: int, path: Path, progress: Callable[[int], None] | None = None
) -> dict:
    """Write the population as a person-record CSV (UTF-8, header row); nothing is written to the database."""
    population = population_for(persons=persons, seed=seed)
    counties = {c["county_code"]: c for c in reference_counties()}
    codes = population.county_codes
    hh_county = population.hh_county[population.household]
    province = np.array([counties[c]["province_name_fa"] for c in codes], dtype=object)[hh_county]
    county = np.array([counties[c]["name_fa"] for c in codes], dtype=object)[hh_county]
    flag = np.array(["0", "1"], dtype=object)
    n = len(population)
    record_ids = [f"SYN{seed}-{i:08d}" for i in range(n)]
    household_ids = [f"SYN{seed}-H{h:07d}" for h in population.household.tolist()]
    chunk = 100_000
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for start in range(0, n, chunk):
            s = slice(start, start + chunk)
            hh = population.household[s]
            writer.writerows(
                zip(
                    record_ids[s],
                    population.national_code[s].tolist(),
                    population.first_name[s].tolist(),
                    population.last_name[s].tolist(),
                    population.father_name[s].tolist(),
                    population.birth_date[s].tolist(),
                    SEX_VALUES[population.sex[s]].tolist(),
                    population.mobile[s].tolist(),
                    province[s].tolist(),
                    county[s].tolist(),
                    population.hh_address[hh].tolist(),
                    population.hh_post_code[hh].tolist(),
                    household_ids[s],
                    RELATION_VALUES[population.relation[s]].tolist(),
                    flag[population.chronic_disease[s].astype(int)].tolist(),
                    flag[population.disability[s].astype(int)].tolist(),
                    flag[population.pregnant[s].astype(int)].tolist(),
                    strict=True,
                )
            )
            if progress:
                progress(min(chunk, n - start))
    return {"persons": n, "households": population.n_households, "seed": seed, "csv": str(path)}
