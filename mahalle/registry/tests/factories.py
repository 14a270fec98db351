import factory

from mahalle.core.identifiers import national_code_with_check_digit
from mahalle.core.persian import search_key
from mahalle.registry.models import Household, Person, Relation, Sex


class HouseholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Household

    org_unit = None
    org_path = factory.LazyAttribute(lambda o: o.org_unit.path)
    address = factory.Sequence(lambda n: f"خیابان آزادی، کوچه {n}")
    phone = factory.Sequence(lambda n: f"0912{n:07d}")


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    household = factory.SubFactory(HouseholdFactory, org_unit=factory.SelfAttribute("..org_unit"))
    org_unit = None
    org_path = factory.LazyAttribute(lambda o: o.org_unit.path)
    national_code = factory.Sequence(lambda n: national_code_with_check_digit(f"{n + 100000000:09d}"))
    first_name = "محمد"
    last_name = factory.Sequence(lambda n: f"محمدی{n}")
    father_name = "علی"
    sex = Sex.MALE
    birth_date = factory.Faker("date_of_birth", minimum_age=1, maximum_age=90)
    mobile = factory.Sequence(lambda n: f"0935{n:07d}")
    relation_to_head = Relation.HEAD
    name_key = factory.LazyAttribute(lambda o: search_key(o.first_name + o.last_name))
    last_name_key = factory.LazyAttribute(lambda o: search_key(o.last_name))
