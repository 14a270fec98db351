import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mahalle.core.errors import ValidationFailed
from mahalle.geo.models import Level, OrgUnit
from mahalle.geo.selectors import org_unit_ancestors
from mahalle.geo.services import geography_load_reference, org_unit_create


@pytest.mark.django_db
def test_reference_geography_loads_31_provinces_and_429_counties_once():
    first = geography_load_reference()
    second = geography_load_reference()
    assert first == second == {"provinces": 31, "counties": 429, "population": 79926270}
    assert OrgUnit.objects.filter(level=Level.PROVINCE).count() == 31
    assert OrgUnit.objects.filter(level=Level.COUNTY).count() == 429
    fars = OrgUnit.objects.get(level=Level.PROVINCE, name_en="Fars")
    assert OrgUnit.objects.within(fars).filter(level=Level.COUNTY).count() == fars.children.count() > 20


def test_subtree_is_one_query_by_path_prefix(tree):
    with CaptureQueriesContext(connection) as queries:
        codes = set(OrgUnit.objects.within(tree["province_a"]).values_list("code", flat=True))
    assert codes == {"PA", "CA", "DA", "NA", "SA1", "SA2"}
    assert len(queries) == 1


def test_prefix_does_not_match_sibling_with_longer_code(tree):
    sibling = org_unit_create(code="PA2", level=Level.PROVINCE, name_fa="استان", parent=tree["country"])
    assert sibling not in OrgUnit.objects.within(tree["province_a"])


def test_ancestors_come_from_the_path(tree):
    assert [u.code for u in org_unit_ancestors(unit=tree["post_b2"])] == ["IR", "PB", "CB", "DB", "NB"]


@pytest.mark.parametrize(
    "code,level,parent_key",
    [("X.Y", Level.COUNTY, "province_a"), ("OK1", Level.POST, "county_a"), ("", Level.COUNTY, "province_a")],
)
def test_bad_units_are_refused(tree, code, level, parent_key):
    with pytest.raises(ValidationFailed):
        org_unit_create(code=code, level=level, name_fa="x", parent=tree[parent_key])
