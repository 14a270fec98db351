import factory

from mahalle.accounts.models import Role, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "کاربر"
    last_name = factory.Sequence(lambda n: f"آزمون {n}")
    role = Role.FIELD_VOLUNTEER
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def units(self, create, extracted, **kwargs):
        if create and extracted:
            self.org_units.set(extracted)
        if create:
            self.save()


# Where each role sits in the test tree of geo.tests.factories.build_tree (the "a" side).
ROLE_HOME = {
    Role.FIELD_VOLUNTEER: "post_a1",
    Role.POST_SUPERVISOR: "post_a1",
    Role.COUNTY_COORDINATOR: "county_a",
    Role.PROVINCE_COORDINATOR: "province_a",
    Role.NATIONAL_COORDINATOR: "country",
    Role.PARTNER_STAFF: "county_a",
    Role.ANALYST: "country",
    Role.ADMINISTRATOR: "country",
}
