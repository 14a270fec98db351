"""Pages answer a domain refusal in one place: NotFound → the 404 page, PermissionDenied → the 403 page."""

import pytest
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns
from mahalle.core import errors

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def not_found(request):
    raise errors.NotFound("case not found")


def denied(request):
    raise errors.PermissionDenied("your role may not do this")


def invalid(request):
    raise errors.ValidationFailed("bad input")


urlpatterns = [
    path("test-errors/not-found/", not_found),
    path("test-errors/denied/", denied),
    path("test-errors/invalid/", invalid),
    *site_urlpatterns,
]


def test_not_found_escaping_a_view_is_the_404_page(client, users):
    client.force_login(users["field_volunteer"])
    response = client.get("/test-errors/not-found/")
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    assert "<h1>یافت نشد</h1>" in response.content.decode()


def test_permission_denied_escaping_a_view_is_the_403_page(client, users):
    client.force_login(users["field_volunteer"])
    response = client.get("/test-errors/denied/")
    assert response.status_code == 403
    assert "403.html" in [t.name for t in response.templates]
    assert "<h1>دسترسی مجاز نیست</h1>" in response.content.decode()


def test_other_domain_errors_are_left_to_the_views(client, users):
    client.force_login(users["field_volunteer"])
    with pytest.raises(errors.ValidationFailed):
        client.get("/test-errors/invalid/")
