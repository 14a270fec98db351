"""Writing the synthetic population and its geography to the database (both backends)."""

import csv

import pytest
from django.db.models import Count, F, Q

from mahalle.audit.models import AuditEvent
from mahalle.core.identifiers import normalize_national_code
from mahalle.geo.models import PATH_SEPARATOR, Level, OrgUnit
from mahalle.geo.services import geography_load_reference
from mahalle.registry.models import Household, Person, Relation
from mahalle.synth.geography import geography_generate
from mahalle.synth.people import CSV_COLUMNS, synth_population_csv
from mahalle.synth.services import synth_population_write

pytestmark = pytest.mark.django_db


@pytest.fixture
def synth_2000():
    return synth_population_write(persons=2000, seed=1)


def test_write_creates_people_households_and_posts(synth_2000):
    assert synth_2000["persons"] == 2000
    assert Person.objects.count() == 2000
    assert Household.objects.count() == synth_2000["households"]
    assert OrgUnit.objects.filter(level=Level.POST).count() == synth_2000["posts_used"] == 2
    assert AuditEvent.objects.filter(action="synth").count() == 1


def test_every_record_carries_its_posts_path(synth_2000):
    assert Person.objects.exclude(org_unit__level=Level.POST).count() == 0
    assert Person.objects.exclude(org_path=F("org_unit__path")).count() == 0
    assert Household.objects.exclude(org_path=F("org_unit__path")).count() == 0
    assert Person.objects.exclude(household__org_unit=F("org_unit")).count() == 0


def test_national_codes_valid_and_unique_across_runs(synth_2000):
    synth_population_write(persons=2000, seed=2)
    codes = list(Person.objects.values_list("national_code", flat=True))
    assert len(codes) == 4000
    assert len(set(codes)) == 4000
    assert all(normalize_national_code(code) == code for code in codes)


def test_each_household_has_one_head_who_is_its_head(synth_2000):
    heads = Household.objects.annotate(n=Count("members", filter=Q(members__relation_to_head=Relation.HEAD)))
    assert set(heads.values_list("n", flat=True)) == {1}
    assert Household.objects.exclude(head__household=F("id")).count() == 0
    assert Household.objects.exclude(head__relation_to_head=Relation.HEAD).count() == 0
    female = Household.objects.filter(female_headed=True)
    assert female.exclude(head__sex="F").count() == 0
    assert Household.objects.filter(female_headed=False, head__sex="F").count() == 0


def test_search_keys_are_set(synth_2000):
    person = Person.objects.order_by("national_code").first()
    assert person.name_key and person.last_name_key
    assert Person.objects.filter(name_key="").count() == 0


def test_geography_codes_paths_and_idempotence():
    geography_load_reference()
    posts = geography_generate(posts_needed={"0001": 5, "2301": 1})
    assert [p.code for p in posts["0001"]] == [
        "0001-01-001-01",
        "0001-01-001-02",
        "0001-01-001-03",
        "0001-01-001-04",
        "0001-01-002-01",
    ]
    generated = OrgUnit.objects.filter(level__gte=Level.DISTRICT)
    assert generated.count() == 2 + 3 + 6
    for unit in generated.select_related("parent"):
        assert PATH_SEPARATOR not in unit.code
        assert unit.level == unit.parent.level + 1
        assert unit.path == OrgUnit.build_path(unit.parent, unit.code)
    assert 1000 <= posts["0001"][0].population <= 1500
    again = geography_generate(posts_needed={"0001": 6})
    assert [p.pk for p in again["0001"][:5]] == [p.pk for p in posts["0001"]]
    assert generated.count() == 2 + 3 + 7
    hood = OrgUnit.objects.get(code="0001-01-002")
    assert hood.population == sum(OrgUnit.objects.filter(parent=hood).values_list("population", flat=True))


def test_unknown_county_is_refused():
    geography_load_reference()
    with pytest.raises(ValueError, match="unknown counties: 9999"):
        geography_generate(posts_needed={"9999": 1})


def test_csv_is_deterministic_and_in_the_record_format(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    synth_population_csv(persons=1500, seed=9, path=a)
    synth_population_csv(persons=1500, seed=9, path=b)
    synth_population_csv(persons=1500, seed=10, path=c)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    with open(a, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1500
    assert rows[0]["relation_to_head"] == "head"
    assert {r["sex"] for r in rows} == {"M", "F"}
    assert all(len(r["birth_date"]) == 10 and r["birth_date"][4] == "-" for r in rows)
    assert Person.objects.count() == 0  # --csv never touches the database
