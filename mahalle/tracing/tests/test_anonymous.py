import pytest

from mahalle.tests.test_jurisdiction_matrix import call

from .test_jurisdiction import PERSONAL_ROUTES


@pytest.mark.parametrize("route", sorted(PERSONAL_ROUTES))
def test_every_tracing_route_refuses_anonymous_callers(client, db, route):
    method, path = route
    concrete = (
        path.replace("{case_id}", "00000000-0000-0000-0000-000000000001")
        .replace("{contact_id}", "00000000-0000-0000-0000-000000000002")
        .replace("{event_id}", "00000000-0000-0000-0000-000000000003")
    )
    response = call(client, None, method, concrete, {} if method == "POST" else None)
    assert response.status_code == 401
    assert response.json()["detail"].startswith("authentication required")
