import pytest


def pytest_collection_modifyitems(config, items):
    from django.db import connection

    vendor = connection.vendor
    for item in items:
        if vendor != "postgresql" and item.get_closest_marker("postgres_only"):
            item.add_marker(pytest.mark.skip(reason="PostgreSQL only"))
        if vendor != "sqlite" and item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason="SQLite only"))


@pytest.fixture
def tree(db):
    """A small org-unit tree: country → provinces a/b → county → district → neighborhood → posts a1, a2, b1, b2."""
    from mahalle.geo.tests.factories import build_tree

    return build_tree()


@pytest.fixture
def users(tree):
    """One user per role, each at its usual place on the "a" side of the tree; keyed by role value."""
    from mahalle.accounts.tests.factories import ROLE_HOME, UserFactory

    return {
        role.value: UserFactory(role=role, username=role.value, units=[tree[home]])
        for role, home in ROLE_HOME.items()
    }


@pytest.fixture
def people(tree):
    """One household with a person in every post; keyed by post name (post_a1 … post_b2)."""
    from mahalle.registry.tests.factories import PersonFactory

    result = {}
    for key in ("post_a1", "post_a2", "post_b1", "post_b2"):
        person = PersonFactory(org_unit=tree[key])
        person.household.head = person
        person.household.save()
        result[key] = person
    return result


@pytest.fixture
def tokens(users):
    """An API token per role (as placed by `users`): role value -> secret."""
    from mahalle.accounts.services import api_token_create

    return {role: api_token_create(actor=user, user=user, name="matrix")[1] for role, user in users.items()}
