"""The last place of a quarantine place, raced for by two connections at once (PostgreSQL: real row locks)."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from mahalle.accounts.models import Role
from mahalle.cases import services
from mahalle.cases.models import Isolation, QuarantinePlace
from mahalle.core.errors import PlaceFull
from mahalle.registry.tests.factories import PersonFactory

from .factories import place_in


@pytest.mark.postgres_only
def test_two_connections_racing_for_the_last_place_get_one_place(transactional_db, users, tree):
    supervisor = users[Role.POST_SUPERVISOR]
    place = place_in(tree["post_a1"], capacity=3, occupied=2)
    people = [PersonFactory(org_unit=tree["post_a1"]) for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list = []

    def start(person):
        try:
            barrier.wait(timeout=10)
            services.isolation_start(
                actor=supervisor,
                person=person,
                setting="facility",
                place=place,
                start_date=timezone.localdate(),
            )
            outcomes.append("started")
        except PlaceFull:
            outcomes.append("full")
        except Exception as exc:  # noqa: BLE001 - any other outcome fails the test below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=start, args=(person,)) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["full", "started"]
    assert QuarantinePlace.objects.get(pk=place.pk).occupied == 3
    assert Isolation.objects.filter(place=place).count() == 1
