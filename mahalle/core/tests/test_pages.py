import pytest
from django.core.exceptions import ImproperlyConfigured

from mahalle.core.pages import Pages


def _view(request):
    return None


def test_route_returns_the_view_unchanged_and_lists_it_under_its_name():
    pages = Pages("demo")
    assert pages.route("things/", name="things")(_view) is _view
    [pattern] = pages.urlpatterns
    assert (str(pattern.pattern), pattern.callback, pattern.name) == ("things/", _view, "things")
    assert pages.app_name == "demo"


def test_a_literal_segment_comes_before_a_parameter_that_would_also_match_it():
    pages = Pages("demo")
    for route, name in [
        ("", "index"),
        ("cycles/<int:cycle_id>/<slug:action>/", "cycle_action"),  # defined first, would shadow the two below
        ("cycles/<int:cycle_id>/payments/", "payments"),
        ("items/<int:item_id>/", "item"),
        ("items/new/", "item_new"),
        ("cycles/<int:cycle_id>/payment-results/", "payment_results"),
    ]:
        pages.route(route, name=name)(_view)
    names = [pattern.name for pattern in pages.urlpatterns]
    assert names == ["index", "item_new", "item", "payments", "payment_results", "cycle_action"]


def test_two_pages_may_not_share_a_name():
    pages = Pages("demo")
    pages.route("a/", name="same")(_view)
    with pytest.raises(ImproperlyConfigured):
        pages.route("b/", name="same")


def test_get_and_post_check_the_method_as_require_safe_and_require_POST_do(rf):
    pages = Pages("demo")
    read = pages.get("read/", name="read")(_view)
    act = pages.post("act/", name="act")(_view)
    assert [p.callback for p in pages.urlpatterns] == [read, act]
    assert read(rf.get("/")) is None and read(rf.head("/")) is None
    assert read(rf.post("/")).status_code == 405
    assert act(rf.post("/")) is None
    assert act(rf.get("/")).status_code == 405
