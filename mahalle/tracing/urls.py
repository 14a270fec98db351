"""The app's pages: each route is declared next to its view (`@pages.route`, see core.pages)."""

from .views import pages

app_name, urlpatterns = pages.app_name, pages.urlpatterns
