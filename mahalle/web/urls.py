"""The pages' root URLs: the shell's own (dashboard, sign-in, sign-out) and each app's pages under its prefix."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("registry/", include("mahalle.registry.urls")),
    path("audit/", include("mahalle.audit.urls")),
    path("screening/", include("mahalle.screening.urls")),
    path("cases/", include("mahalle.cases.urls")),
    path("tracing/", include("mahalle.tracing.urls")),
    path("needs/", include("mahalle.needs.urls")),
    path("aid/", include("mahalle.aid.urls")),
    path("analytics/", include("mahalle.analytics.urls")),
]
