"""`Pages`: a page's URL written next to its view, as the API's routes are (django-ninja's `@router.get("/path")`).

Each app's views.py makes one page router and decorates its views with their route and URL name:

    pages = Pages("aid")

    @pages.get("programs/<int:program_id>/", name="program")      # GET and HEAD only, as @require_safe
    @login_required
    def program_detail(request, program_id): ...

    @pages.post("cycles/<int:cycle_id>/<slug:action>/", name="cycle_action")     # POST only, as @require_POST
    ...

    @pages.route("programs/new/", name="program_new")              # any method: the view shows and saves a form
    ...

and its urls.py is the same two lines in every app (instead of one hand-kept list per app repeating the views):

    from .views import pages

    app_name, urlpatterns = pages.app_name, pages.urlpatterns

The route decorator goes on top, above login_required / personal_data_required, so that the URL serves the fully
decorated view. `@pages.route` returns the view unchanged; `@pages.get` and `@pages.post` return it wrapped in
require_safe / require_POST, as the API's `@router.get` / `@router.post` say the method next to the path. The
namespace (`app_name`) and the names are those that `reverse("aid:program", ...)` and `{% url %}` use.

Order: Django tries the patterns in order and the first match wins, so where two routes can match the same URL
the more specific one must come first — "cycles/<int:cycle_id>/payments/" before
"cycles/<int:cycle_id>/<slug:action>/", whose slug would also match "payments". `urlpatterns` therefore sorts the
routes segment by segment, a literal segment before a parameter (`<...>`) in the same place; routes of the same
shape keep the order in which their views are defined.
"""

from django.core.exceptions import ImproperlyConfigured
from django.urls import URLPattern, path
from django.views.decorators.http import require_POST, require_safe


def _specificity(route: str) -> tuple[bool, ...]:
    """Per segment, whether it is a parameter: sorting on it puts a literal segment before a parameter."""
    return tuple("<" in segment for segment in route.rstrip("/").split("/") if segment)


class Pages:
    """One app's pages: `@route` registers a view, `urlpatterns` lists them for the app's urls.py."""

    def __init__(self, app_name: str):
        self.app_name = app_name
        self._routes: list[tuple[str, object, str]] = []

    def route(self, route: str, *, name: str):
        """Register the decorated view at `route` (relative to the app's prefix) under `name`; any HTTP method."""
        return self._register(route, name)

    def get(self, route: str, *, name: str):
        """A page that only reads: GET and HEAD (require_safe); other methods get 405."""
        return self._register(route, name, method_check=require_safe)

    def post(self, route: str, *, name: str):
        """An action: POST only (require_POST); other methods get 405."""
        return self._register(route, name, method_check=require_POST)

    def _register(self, route: str, name: str, method_check=None):
        if any(name == taken for _, _, taken in self._routes):
            raise ImproperlyConfigured(f"{self.app_name}: two pages are named {name!r}")

        def register(view):
            if method_check is not None:
                view = method_check(view)
            self._routes.append((route, view, name))
            return view

        return register

    @property
    def urlpatterns(self) -> list[URLPattern]:
        ordered = sorted(self._routes, key=lambda entry: _specificity(entry[0]))  # stable: else definition order
        return [path(route, view, name=name) for route, view, name in ordered]
