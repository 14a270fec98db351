import factory

from mahalle.geo.models import Level, OrgUnit


class OrgUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrgUnit

    parent = None
    level = factory.LazyAttribute(lambda o: Level.COUNTRY if o.parent is None else o.parent.level + 1)
    code = factory.Sequence(lambda n: f"U{n:05d}")
    name_fa = factory.Sequence(lambda n: f"واحد {n}")
    name_en = factory.Sequence(lambda n: f"Unit {n}")
    path = factory.LazyAttribute(lambda o: OrgUnit.build_path(o.parent, o.code))


def build_tree() -> dict[str, OrgUnit]:
    """Two provinces, each with one county → district → neighborhood → two posts; keys name each unit."""
    units = {"country": OrgUnitFactory(code="IR", name_fa="ایران", name_en="Iran")}
    for p in ("a", "b"):
        province = units[f"province_{p}"] = OrgUnitFactory(parent=units["country"], code=f"P{p.upper()}")
        county = units[f"county_{p}"] = OrgUnitFactory(parent=province, code=f"C{p.upper()}")
        district = units[f"district_{p}"] = OrgUnitFactory(parent=county, code=f"D{p.upper()}")
        hood = units[f"neighborhood_{p}"] = OrgUnitFactory(parent=district, code=f"N{p.upper()}")
        units[f"post_{p}1"] = OrgUnitFactory(parent=hood, code=f"S{p.upper()}1")
        units[f"post_{p}2"] = OrgUnitFactory(parent=hood, code=f"S{p.upper()}2")
    return units
