import pytest

from mahalle.accounts.models import Role


@pytest.fixture
def analyst(client, users):
    client.force_login(users[Role.ANALYST])
    return client


def test_root_without_parent(analyst, tree):
    response = analyst.get("/api/v1/org-units/")
    assert response.status_code == 200
    assert [(u["code"], u["parent"]) for u in response.json()] == [("IR", None)]


def test_children_of_a_unit(analyst, tree, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        response = analyst.get("/api/v1/org-units/?parent=NA")
    assert [(u["code"], u["level"], u["parent"]) for u in response.json()] == [
        ("SA1", 5, "NA"),
        ("SA2", 5, "NA"),
    ]


def test_unknown_parent_is_404(analyst, tree):
    response = analyst.get("/api/v1/org-units/?parent=NOPE")
    assert (response.status_code, response.json()) == (404, {"detail": "not found", "errors": []})


def test_detail_with_ancestors_from_the_root(analyst, tree):
    response = analyst.get("/api/v1/org-units/SB2")
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["path"]) == ("SB2", "IR.PB.CB.DB.NB.SB2.")
    assert [a["code"] for a in body["ancestors"]] == ["IR", "PB", "CB", "DB", "NB"]


@pytest.mark.parametrize(
    "path", ["/api/v1/org-units/NOPE", "/api/v1/org-units/%00", "/api/v1/org-units/?parent=%00"]
)
def test_odd_codes_are_4xx(analyst, tree, path):
    response = analyst.get(path)
    assert response.status_code in (404, 422)
    assert set(response.json()) == {"detail", "errors"}


def test_anonymous_is_401(client, tree):
    assert client.get("/api/v1/org-units/").status_code == 401
