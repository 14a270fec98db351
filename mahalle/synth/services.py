"""Writes for the synthetic population: persons and households, with the posts they need.

These are operator tools (the `mahalle synth` command, the demo), not user actions: they bulk-insert and
record one audit event per run instead of one per row.
"""

from collections.abc import Callable

import numpy as np

from mahalle.audit.services import audit_record
from mahalle.core.service import service
from mahalle.geo.models import OrgUnit
from mahalle.geo.services import COUNTRY_CODE, geography_load_reference
from mahalle.registry.models import Household, Person
from mahalle.registry.rules import person_keys

from .bulk import rows_insert
from .geography import geography_generate, geography_generate_full
from .people import population_for, reference_counties
from .population import RELATION_VALUES, SEX_VALUES, Population, county_code_prefixes


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


@service
def synth_population_write(
    *, persons: int, seed: int, full_geography: bool = False, progress: Callable[[int], None] | None = None
) -> dict:
    """Generate `persons` people (deterministic for the seed and the database's codes) and insert them with their
    households and the posts they need. All or nothing: one transaction, one audit event for the run."""
    if not OrgUnit.objects.filter(code=COUNTRY_CODE).exists():
        geography_load_reference()
    counties = reference_counties()
    all_prefixes = {p for i in range(len(counties)) for p in county_code_prefixes(i, len(counties))}
    population = population_for(persons=persons, seed=seed, taken=_taken_codes(all_prefixes))
    posts_total = geography_generate_full()["posts"] if full_geography else None
    posts = geography_generate(posts_needed=population.posts_needed)
    hh_posts = [
        posts[population.county_codes[c]][p]
        for c, p in zip(population.hh_county.tolist(), population.hh_post.tolist(), strict=True)
    ]
    hh_ids = population.uuids(population.n_households)
    person_ids = population.uuids(len(population))
    _households_insert(population, hh_posts, hh_ids, person_ids)
    _persons_insert(population, hh_posts, hh_ids, person_ids, progress=progress)
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


def _households_insert(population: Population, hh_posts: list, hh_ids: list, person_ids: list) -> None:
    head = population.hh_head.tolist()
    female_headed = (population.sex[population.hh_head] == 1).tolist()
    mobiles = population.mobile.tolist()
    rows_insert(
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


PERSON_COLUMNS = [
    *("id", "org_unit", "org_path", "household", "relation_to_head", "national_code", "first_name", "last_name"),
    *("father_name", "sex", "birth_date", "mobile", "chronic_disease", "disability", "pregnant", "name_key"),
    "last_name_key",
]


def _persons_insert(
    population: Population, hh_posts: list, hh_ids: list, person_ids: list, *, progress=None
) -> None:
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
            population.mobile.tolist(),
            population.chronic_disease.tolist(),
            population.disability.tolist(),
            population.pregnant.tolist(),
            strict=True,
        )
        for i, (h, rel, nc, first, last, father, sex, birth, mobile, chronic, disab, preg) in enumerate(columns):
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

    rows_insert(Person, PERSON_COLUMNS, person_rows(), progress=progress)
