"""The pure generator: determinism, census structure, households, identifiers (no database)."""

from collections import Counter

import numpy as np
import pytest

from mahalle.core.identifiers import normalize_national_code
from mahalle.synth.people import DATA_DIR, county_allocation, population_for, reference_counties
from mahalle.synth.population import (
    REL_HEAD,
    REL_SPOUSE,
    allocate,
    census_load,
    population_generate,
)

ARRAYS = (
    "household",
    "relation",
    "sex",
    "birth_date",
    "national_code",
    "first_name",
    "last_name",
    "father_name",
    "mobile",
)


@pytest.fixture(scope="module")
def census():
    return census_load(DATA_DIR / "census2016_county_age_sex.csv")


def test_same_seed_same_people_and_other_seed_differs():
    a, b, c = (population_for(persons=2000, seed=s) for s in (7, 7, 8))
    for name in ARRAYS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.uuids(5) == b.uuids(5)
    assert not np.array_equal(a.national_code, c.national_code)
    assert not np.array_equal(a.first_name, c.first_name)


def test_national_codes_are_valid_and_unique():
    people = population_for(persons=5000, seed=3)
    codes = people.national_code.tolist()
    assert len(codes) == 5000
    assert len(set(codes)) == 5000
    assert all(normalize_national_code(code) == code for code in codes)


def test_taken_codes_are_never_reissued(census):
    first = population_generate(
        county_counts={"0001": 3000}, census=census, seed=1, county_prefixes={"0001": [123]}
    )
    taken = {123: np.array(sorted(int(c[3:9]) for c in first.national_code.tolist()))}
    second = population_generate(
        county_counts={"0001": 3000},
        census=census,
        seed=1,
        county_prefixes={"0001": [123]},
        taken_codes=taken,
    )
    assert set(first.national_code.tolist()).isdisjoint(second.national_code.tolist())
    assert all(code.startswith("123") for code in second.national_code.tolist())


def test_every_household_has_exactly_one_head_and_at_most_one_spouse():
    people = population_for(persons=4000, seed=2)
    heads = np.bincount(people.household[people.relation == REL_HEAD], minlength=people.n_households)
    spouses = np.bincount(people.household[people.relation == REL_SPOUSE], minlength=people.n_households)
    assert heads.min() == 1 and heads.max() == 1
    assert spouses.max() == 1
    assert np.array_equal(people.relation[people.hh_head], np.full(people.n_households, REL_HEAD))
    assert np.array_equal(people.household[people.hh_head], np.arange(people.n_households))


def test_household_structure_is_plausible():
    people = population_for(persons=30_000, seed=4)
    mean_size = len(people) / people.n_households
    assert 3.0 <= mean_size <= 3.7
    female_headed = (people.sex[people.hh_head] == 1).mean()
    assert 0.08 <= female_headed <= 0.16
    assert 0.15 <= people.hh_lost_income.mean() <= 0.25
    assert 0.008 <= people.disability.mean() <= 0.025
    women = (people.sex == 1) & (people.age >= 15) & (people.age < 45)
    assert 0.02 <= people.pregnant[women].mean() <= 0.05
    assert not people.pregnant[people.sex == 0].any()
    old, young = people.age >= 60, people.age < 40
    assert people.chronic_disease[old].mean() > 3 * people.chronic_disease[young].mean()
    # Children of a male head carry his surname and have his first name as their father's name.
    head = people.hh_head[people.household]
    kids = (people.relation == 2) & (people.sex[head] == 0)
    assert kids.sum() > 5000
    assert np.array_equal(people.last_name[kids], people.last_name[head[kids]])
    assert np.array_equal(people.father_name[kids], people.first_name[head[kids]])
    spouse_of = {
        h: i
        for i, h in zip(
            np.flatnonzero(people.relation == REL_SPOUSE),
            people.household[people.relation == REL_SPOUSE],
            strict=True,
        )
    }
    gaps = [
        people.age[spouse_of[h]] - people.age[i]
        for i, h in enumerate(people.household)
        if people.relation[i] == 2 and h in spouse_of
    ]
    assert min(gaps) >= 15 and max(gaps) <= 46


def test_age_and_sex_follow_the_county_census(census):
    table = census.tables["0001"]  # Arak
    over_60_census = table[census.bounds[:, 0] >= 60].sum() / table.sum()
    female_census = table[:, 1].sum() / table.sum()
    people = population_generate(county_counts={"0001": 20_000}, census=census, seed=5)
    assert abs((people.age >= 60).mean() - over_60_census) < 0.01
    assert abs((people.sex == 1).mean() - female_census) < 0.012
    assert abs((people.age < 15).mean() - table[census.bounds[:, 0] < 15].sum() / table.sum()) < 0.012


def test_frequent_names_are_frequent():
    people = population_for(persons=20_000, seed=6)
    first = Counter(people.first_name.tolist()).most_common(4)
    assert {name for name, _ in first} == {"محمد", "فاطمه", "علی", "زهرا"}
    last = [name for name, _ in Counter(people.last_name.tolist()).most_common(3)]
    assert last == ["محمدی", "حسینی", "احمدی"]
    assert all("ك" not in name and "ي" not in name for name in people.first_name.tolist())


def test_posts_follow_population_size():
    counties = reference_counties()
    counts = county_allocation(100_000, counties, seed=1)
    assert sum(counts.values()) == 100_000
    people = population_for(persons=100_000, seed=1)
    assert sum(people.posts_needed.values()) == 67
    # Tehran (the largest county) gets the most people.
    tehran = max(counties, key=lambda c: int(c["population_2016"]))["county_code"]
    assert max(counts, key=counts.get) == tehran


def test_allocate_is_exact_and_proportional():
    assert allocate(10, [1, 1, 1]).tolist() == [4, 3, 3]
    assert allocate(0, [1, 2]).tolist() == [0, 0]
    assert allocate(7, [0, 5, 2]).tolist() == [0, 5, 2]
