"""The allocation page: need from cases (home patients with low SpO2, not yet served), scarce equipment in
warehouses, the optimiser's proposal with its explanation, approval into transfer orders, dispatch."""

import pytest
from django.urls import reverse
from django.utils import timezone

from mahalle.accounts.models import Role
from mahalle.aid import selectors, services
from mahalle.aid.models import EquipmentUnit, TransferOrder
from mahalle.audit.models import AuditEvent
from mahalle.cases.models import FollowUp
from mahalle.cases.tests.factories import isolation_for
from mahalle.core.errors import Conflict, ValidationFailed

from .factories import ItemFactory, WarehouseFactory, stock


@pytest.fixture
def scene(tree, users, people):
    concentrator = ItemFactory(code="oxygen", name="اکسیژن‌ساز")
    national = WarehouseFactory(org_unit=tree["country"], code="national")
    for n in range(3):
        EquipmentUnit.objects.create(
            item=concentrator, serial=f"OC-{n}", warehouse=national, org_path=national.org_path
        )
    county_a = WarehouseFactory(org_unit=tree["county_a"], code="county-a")
    county_b = WarehouseFactory(org_unit=tree["county_b"], code="county-b")
    today = timezone.localdate()
    for post, spo2 in (("post_a1", 90), ("post_a2", 91), ("post_b1", 88), ("post_b2", 96)):
        isolation = isolation_for(people[post], start_date=today)
        FollowUp.objects.create(
            isolation=isolation,
            date=today,
            method="call",
            spo2=spo2,
            by=users[Role.ADMINISTRATOR],
            org_unit=isolation.org_unit,
            org_path=isolation.org_path,
        )
    return {"item": concentrator, "national": national, "county_a": county_a, "county_b": county_b}


def test_need_by_region(scene, users, tree):
    need = selectors.oxygen_need_by_region(user=users[Role.NATIONAL_COORDINATOR], level=2, item=scene["item"])
    assert [(r["region"], r["need"], r["weight"]) for r in need] == [("CA", 2, 1.0), ("CB", 1, 1.0)]
    # the county coordinator sees only their county
    need = selectors.oxygen_need_by_region(user=users[Role.COUNTY_COORDINATOR], level=2, item=scene["item"])
    assert [(r["region"], r["need"]) for r in need] == [("CA", 2)]


def test_propose_approve_dispatch(client, scene, users):
    client.force_login(users[Role.NATIONAL_COORDINATOR])
    url = reverse("aid:allocate")
    page = client.get(url, {"item": scene["item"].pk, "level": 2})
    assert page.status_code == 200
    assert [(w.code, units) for w, units in page.context["stock"]] == [("national", 3)]
    proposed = client.post(url, {"item": scene["item"].pk, "level": 2, "action": "propose"})
    assert proposed.status_code == 200
    result = proposed.context["result"]
    assert result.units == {("national", "CA"): 2, ("national", "CB"): 1}
    assert result.min_coverage == 1.0
    assert result.explanation
    moves = [f"national|{p['target'].code}|{p['units']}" for p in proposed.context["proposal"]]
    assert sorted(moves) == ["national|county-a|2", "national|county-b|1"]
    approved = client.post(url, {"item": scene["item"].pk, "level": 2, "action": "approve", "move": moves})
    assert approved.status_code == 302
    orders = {o.target.code: o.quantity for o in TransferOrder.objects.all()}
    assert orders == {"county-a": 2, "county-b": 1}
    event = AuditEvent.objects.get(action="approve", object_type="aid.transferorder")
    assert sorted(event.details["moves"]) == [["national", "county-a", 2], ["national", "county-b", 1]]
    order = TransferOrder.objects.get(target__code="county-a")
    assert (
        client.post(reverse("aid:transfer_order_execute", kwargs={"order_id": order.pk})).status_code == 302
    )
    assert EquipmentUnit.objects.filter(warehouse=scene["county_a"]).count() == 2
    with pytest.raises(Conflict):
        services.transfer_order_execute(actor=users[Role.NATIONAL_COORDINATOR], order=order)


def test_allocation_page_is_for_coordinators(client, scene, users):
    for role in (Role.FIELD_VOLUNTEER, Role.POST_SUPERVISOR, Role.ANALYST, Role.PARTNER_STAFF):
        client.force_login(users[role])
        response = client.post(
            reverse("aid:allocate"),
            {"item": scene["item"].pk, "action": "approve", "move": ["national|county-a|2"]},
        )
        assert response.status_code == 403
    assert TransferOrder.objects.count() == 0


def test_transfer_orders_refuse_bad_moves(scene, users):
    coordinator = users[Role.COUNTY_COORDINATOR]
    with pytest.raises(ValidationFailed) as exc:
        services.transfer_orders_create(
            actor=coordinator,
            item=scene["item"],
            moves=[(scene["national"], scene["county_a"], 1), (scene["county_a"], scene["county_a"], 0)],
        )
    assert exc.value.errors == [
        {"field": "moves.0.source", "message": "national is outside your jurisdiction"},
        {"field": "moves.1.target", "message": "a warehouse cannot transfer to itself"},
        {"field": "moves.1.units", "message": "must be a whole number above zero"},
    ]
    assert TransferOrder.objects.count() == 0


def test_consumable_transfer_order_moves_stock_by_expiry(scene, users, tree):
    masks = ItemFactory()
    stock(scene["national"], masks, 3, lot="A")
    stock(scene["national"], masks, 4, lot="B")
    actor = users[Role.NATIONAL_COORDINATOR]
    (order,) = services.transfer_orders_create(
        actor=actor, item=masks, moves=[(scene["national"], scene["county_b"], 5)]
    )
    services.transfer_order_execute(actor=actor, order=order)
    moved = {(lv.warehouse.code, lv.lot): lv.quantity for lv in masks.levels.select_related("warehouse")}
    assert sum(q for (w, _), q in moved.items() if w == "county-b") == 5
    assert sum(q for (w, _), q in moved.items() if w == "national") == 2


def test_warehouse_and_item_creation(users, tree):
    coordinator = users[Role.PROVINCE_COORDINATOR]
    item = services.item_create(actor=coordinator, code="Rice", name="برنج", unit="kg", indivisible=False)
    warehouse = services.warehouse_create(
        actor=coordinator, code="wh-pa", name="انبار استان", org_unit=tree["province_a"]
    )
    assert (item.code, warehouse.org_path) == ("rice", tree["province_a"].path)
    with pytest.raises(ValidationFailed):
        services.warehouse_create(actor=coordinator, code="wh-pa", name="x", org_unit=tree["province_a"])
    from mahalle.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.warehouse_create(actor=coordinator, code="wh-pb", name="x", org_unit=tree["province_b"])
    with pytest.raises(PermissionDenied):
        services.item_create(actor=users[Role.POST_SUPERVISOR], code="x", name="x")
