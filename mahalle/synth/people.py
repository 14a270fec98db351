"""The synthetic population for a size and a seed: where the people live (the 2016 census counties, persons
per county) and who they are (`population.population_generate`), and the population as a person-record CSV.
Reads the reference data files; writes nothing to the database.
"""

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
from django.conf import settings

from mahalle.core.person_record import PERSON_RECORD_COLUMNS

from .geography import posts_for_population
from .population import (
    RELATION_VALUES,
    SEX_VALUES,
    Population,
    allocate,
    census_load,
    county_code_prefixes,
    population_generate,
)

DATA_DIR = Path(settings.BASE_DIR) / "data" / "iran"
CSV_COLUMNS = [
    *PERSON_RECORD_COLUMNS,
    "post_code",
    "household_id",
    "relation_to_head",
    "chronic_disease",
    "disability",
    "pregnant",
]


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
