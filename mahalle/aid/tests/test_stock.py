"""Stock ledger: receipts, transfers, losses, adjustments; never negative; clear errors for bad input."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from mahalle.accounts.models import Role
from mahalle.aid import services
from mahalle.aid.models import StockLevel, StockMove
from mahalle.audit.models import AuditEvent
from mahalle.core.errors import InsufficientStock, PermissionDenied, ValidationFailed

from .factories import ItemFactory, WarehouseFactory, stock


def ledger_balanced() -> bool:
    sums = {
        (r["warehouse_id"], r["item_id"], r["lot"]): r["q"]
        for r in StockMove.objects.values("warehouse_id", "item_id", "lot").annotate(q=Sum("quantity"))
    }
    levels = {(lv.warehouse_id, lv.item_id, lv.lot): lv.quantity for lv in StockLevel.objects.all()}
    return sums == levels


def test_receive_transfer_loss_adjust_keep_the_ledger_balanced(tree, users):
    actor = users[Role.COUNTY_COORDINATOR]
    county = WarehouseFactory(org_unit=tree["county_a"])
    post = WarehouseFactory(org_unit=tree["post_a1"])
    masks = ItemFactory(name="ماسک", perishable=True)
    services.stock_receive(
        actor=actor,
        warehouse=county,
        item=masks,
        quantity=100,
        lot="L1",
        expiry=dt.date(2027, 1, 1),
        source="خیرین",
    )
    reference = services.stock_transfer(
        actor=actor, source=county, target=post, item=masks, quantity=30, lot="L1"
    )
    services.stock_write_off(actor=actor, warehouse=post, item=masks, quantity=2, lot="L1", reason="wet")
    assert (
        services.stock_adjust(actor=actor, warehouse=county, item=masks, counted=69, lot="L1", reason="count")
        == -1
    )
    levels = {lv.warehouse_id: (lv.quantity, lv.expiry) for lv in StockLevel.objects.all()}
    assert levels == {county.pk: (69, dt.date(2027, 1, 1)), post.pk: (28, dt.date(2027, 1, 1))}
    assert list(StockMove.objects.order_by("id").values_list("kind", "quantity", "reference")) == [
        ("receipt", 100, ""),
        ("transfer_out", -30, reference),
        ("transfer_in", 30, reference),
        ("loss", -2, ""),
        ("adjust", -1, ""),
    ]
    assert ledger_balanced()
    assert sorted(AuditEvent.objects.values_list("action", flat=True)) == [
        "adjust",
        "loss",
        "receive",
        "transfer",
    ]


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (-1, "must be more than zero"),
        (0, "must be more than zero"),
        ("1.5", "is counted in whole units"),
        ("abc", "must be a number"),
    ],
)
def test_bad_quantities_are_clear_errors(tree, users, quantity, message):
    warehouse = WarehouseFactory(org_unit=tree["post_a1"])
    item = ItemFactory(name="کپسول")
    with pytest.raises(ValidationFailed) as exc:
        services.stock_receive(
            actor=users[Role.POST_SUPERVISOR], warehouse=warehouse, item=item, quantity=quantity
        )
    assert exc.value.errors[0]["field"] == "quantity"
    assert message in exc.value.errors[0]["message"]
    assert StockMove.objects.count() == 0


def test_divisible_items_take_fractions(tree, users):
    warehouse = WarehouseFactory(org_unit=tree["post_a1"])
    rice = ItemFactory(indivisible=False, unit="kg")
    level = services.stock_receive(
        actor=users[Role.POST_SUPERVISOR], warehouse=warehouse, item=rice, quantity="2.5"
    )
    assert level.quantity == Decimal("2.5")


def test_transfer_to_itself_and_beyond_stock_are_refused(tree, users):
    actor = users[Role.COUNTY_COORDINATOR]
    county = WarehouseFactory(org_unit=tree["county_a"])
    post = WarehouseFactory(org_unit=tree["post_a1"])
    item = ItemFactory()
    stock(county, item, 5)
    with pytest.raises(ValidationFailed) as exc:
        services.stock_transfer(actor=actor, source=county, target=county, item=item, quantity=1)
    assert exc.value.errors == [{"field": "target", "message": "a warehouse cannot transfer to itself"}]
    with pytest.raises(InsufficientStock) as exc:
        services.stock_transfer(actor=actor, source=county, target=post, item=item, quantity=6)
    assert exc.value.status_code == 409
    assert exc.value.errors == [{"field": "quantity", "message": "5 on hand in lot ''"}]
    assert StockLevel.objects.get(warehouse=county).quantity == 5
    assert not StockLevel.objects.filter(warehouse=post, quantity__gt=0).exists()
    assert StockMove.objects.count() == 1
    with pytest.raises(InsufficientStock):
        services.stock_write_off(actor=actor, warehouse=post, item=item, quantity=1, reason="x")


@pytest.mark.parametrize(
    ("role", "unit"),
    [
        (Role.FIELD_VOLUNTEER, "post_a1"),
        (Role.ANALYST, "post_a1"),
        (Role.POST_SUPERVISOR, "post_a2"),
        (Role.COUNTY_COORDINATOR, "post_b1"),
    ],
)
def test_stock_writes_refused_outside_role_or_jurisdiction(tree, users, role, unit):
    warehouse = WarehouseFactory(org_unit=tree[unit])
    with pytest.raises(PermissionDenied):
        services.stock_receive(actor=users[role], warehouse=warehouse, item=ItemFactory(), quantity=1)
    assert StockMove.objects.count() == 0


@pytest.mark.postgres_only
def test_concurrent_transfers_never_go_negative(transactional_db, users, tree):
    """Eight threads move 10 units each out of a warehouse holding 50, in both directions between two
    warehouses: locks in id order (no deadlock), never negative, the ledger balanced."""
    actor = users[Role.COUNTY_COORDINATOR]
    one = WarehouseFactory(org_unit=tree["county_a"])
    two = WarehouseFactory(org_unit=tree["post_a1"])
    item = ItemFactory()
    stock(one, item, 50)
    stock(two, item, 0)
    barrier = threading.Barrier(8)
    outcomes: list = []

    def move(i):
        try:
            barrier.wait(timeout=10)
            source, target = (one, two) if i < 6 else (two, one)
            services.stock_transfer(actor=actor, source=source, target=target, item=item, quantity=10)
            outcomes.append("moved")
        except InsufficientStock:
            outcomes.append("short")
        except Exception as exc:  # noqa: BLE001 - any other outcome fails the test below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=move, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert set(outcomes) <= {"moved", "short"}, outcomes
    assert len(outcomes) == 8
    assert StockLevel.objects.filter(quantity__lt=0).count() == 0
    assert sum(lv.quantity for lv in StockLevel.objects.all()) == 50
    assert ledger_balanced()
