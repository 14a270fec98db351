"""Pages of the aid area (thin: parse, call a selector or service, render). The dashboard and program pages show
programs, cycles and stock of the user's area; delivery and loan pages are phone-sized and personal (a record
outside the user's jurisdiction is a 404 page); writes are refused by the services for roles that may not."""

import datetime as dt
import uuid
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from mahalle.accounts.capabilities import Can, may
from mahalle.accounts.gates import personal_data_required
from mahalle.accounts.selectors import path_within
from mahalle.core import errors
from mahalle.core.pages import Pages
from mahalle.geo.models import OrgUnit
from mahalle.needs.models import Agency, NeedKind
from mahalle.registry.selectors import persons_visible

from . import exports, rules, selectors, services
from .models import AidKind, Cadence, Cycle, Delivery, EquipmentUnit, Item, Proof, TransferOrder, Warehouse
from .optim.allocation import AllocationInputError, allocate

pages = Pages("aid")
LIST_LIMIT = 200


def _refused(request, exc: errors.DomainError):
    """A refusal caught around a form: a 403 or 404 goes on to the 403/404 page (web.middleware answers them);
    any other (422, 409) is shown as the page's message."""
    if isinstance(exc, errors.PermissionDenied | errors.NotFound):
        raise exc
    messages.error(request, exc.summary())


@pages.get("", name="index")
@login_required
def index(request):
    """The dashboard: per program and cycle, entitled / delivered / pending in the user's area; stock on hand and
    days of stock left; overdue equipment loans."""
    user = request.user
    programs = list(selectors.programs_visible(user=user).prefetch_related("cycle_set")[:LIST_LIMIT])
    for program in programs:
        program.rule_text = rules.rule_describe(program.rule, gettext=_)
        program.shown_cycles = []
        for cycle in program.cycle_set.all():
            if cycle.status != Cycle.Status.DRAFT:
                cycle.coverage = selectors.cycle_coverage(user=user, cycle=cycle)
                program.shown_cycles.append(cycle)
    context = {
        "programs": programs,
        "stock": selectors.stock_days_left(user=user),
        "overdue": selectors.loans_overdue(user=user).count() if user.can_read_personal_data else None,
        "can_manage": may(user, Can.MANAGE_PROGRAMS),
        "can_deliver": may(user, Can.DELIVER),
        "today": timezone.localdate(),
    }
    return render(request, "aid/index.html", context)


# --- programs and cycles --------------------------------------------------------------------------------------


@pages.route("programs/new/", name="program_new")
@login_required
def program_new(request):
    """A coordinator defines a program: kind, category, funding agency, area, rule, cycles."""
    user = request.user
    if not may(user, Can.MANAGE_PROGRAMS):
        raise PermissionDenied
    values = request.POST if request.method == "POST" else {}
    status = 200
    if request.method == "POST":
        status = 422
        rule = {
            "need_kinds": request.POST.getlist("need_kinds"),
            "breadwinner_died": request.POST.get("breadwinner_died") == "on",
        }
        if request.POST.get("min_score", "").strip():
            rule["min_score"] = int(request.POST["min_score"]) if request.POST["min_score"].isdigit() else -1
        if request.POST.get("regions", "").strip():
            rule["regions"] = request.POST["regions"].split()
        try:
            unit = OrgUnit.objects.filter(code=request.POST.get("org_unit", "").strip()).first()
            agency = Agency.objects.filter(code=request.POST.get("agency", "")).first()
            item = Item.objects.filter(code=request.POST.get("item", "")).first()
            if unit is None or agency is None:
                raise errors.ValidationFailed(
                    _("the program is not valid"), [errors.field_error("org_unit/agency", _("choose both"))]
                )
            program = services.program_create(
                actor=user,
                code=request.POST.get("code", "").strip(),
                name=request.POST.get("name", ""),
                kind=request.POST.get("kind", ""),
                category=request.POST.get("category", "").strip(),
                agency=agency,
                org_unit=unit,
                item=item,
                quantity=request.POST.get("quantity") or 1,
                amount=Decimal(request.POST.get("amount") or 0),
                rule=rule,
                cadence=request.POST.get("cadence", Cadence.ONCE),
                cycles=int(request.POST.get("cycles") or 1),
                start_date=dt.date.fromisoformat(request.POST.get("start_date", "")),
            )
            messages.success(request, _("Program created."))
            return redirect("aid:program", program_id=program.pk)
        except errors.DomainError as exc:
            _refused(request, exc)
        except (ValueError, ArithmeticError):
            messages.error(request, _("Check the numbers and the start date (YYYY-MM-DD)."))
    context = {
        "values": values,
        "kinds": AidKind.choices,
        "cadences": Cadence.choices,
        "need_kinds": NeedKind.choices,
        "agencies": Agency.objects.order_by("name"),
        "items": Item.objects.order_by("name"),
    }
    return render(request, "aid/program_new.html", context, status=status)


@pages.get("programs/<int:program_id>/", name="program")
@login_required
def program_detail(request, program_id):
    user = request.user
    program = selectors.access_program(user, program_id)
    cycles = list(program.cycle_set.all())
    for cycle in cycles:
        cycle.coverage = selectors.cycle_coverage(user=user, cycle=cycle)
    computed = next((c for c in cycles if c.status == Cycle.Status.COMPUTED), None)
    flagged = []
    if computed is not None and user.can_read_personal_data:
        flagged = list(
            selectors.entitlements_visible(user=user).filter(cycle=computed).exclude(flag="")[:LIST_LIMIT]
        )
    context = {
        "program": program,
        "rule_text": rules.rule_describe(program.rule, gettext=_),
        "cycles": cycles,
        "computed": computed,
        "flagged": flagged,
        "can_manage": may(user, Can.MANAGE_PROGRAMS),
    }
    return render(request, "aid/program.html", context)


@pages.post("cycles/<int:cycle_id>/<slug:action>/", name="cycle_action")
@login_required
def cycle_action(request, cycle_id, action):
    user = request.user
    cycle = selectors.access_cycle(user, cycle_id)
    try:
        if action == "run":
            services.cycle_run_request(actor=user, cycle=cycle)
            messages.success(request, _("The cycle is being computed; this page shows its progress."))
        elif action == "approve":
            services.cycle_approve(actor=user, cycle=cycle)
            messages.success(request, _("Cycle approved: its list is frozen."))
        else:
            raise Http404("no such action")
    except errors.DomainError as exc:
        _refused(request, exc)
    return redirect("aid:program", program_id=cycle.program_id)


@pages.post("entitlements/<int:entitlement_id>/decision/", name="entitlement_decide")
@personal_data_required
def entitlement_decide(request, entitlement_id):
    user = request.user
    entitlement = selectors.access_entitlement(user, entitlement_id)
    try:
        services.entitlement_decide(
            actor=user,
            entitlement=entitlement,
            decision=request.POST.get("decision", ""),
            note=request.POST.get("note", ""),
        )
    except errors.DomainError as exc:
        _refused(request, exc)
    return redirect("aid:program", program_id=entitlement.cycle.program_id)


@pages.get("cycles/<int:cycle_id>/payments/", name="payments_export")
@personal_data_required
def payments_export(request, cycle_id):
    cycle = selectors.access_cycle(request.user, cycle_id)
    try:
        rows = services.payments_export_rows(actor=request.user, cycle=cycle)
    except errors.DomainError as exc:
        _refused(request, exc)
        return redirect("aid:program", program_id=cycle.program_id)
    name = f"payments-{cycle.program.code}-{cycle.number}"
    return exports.payments_response(rows, name, request.GET.get("format", "csv"))


@pages.post("cycles/<int:cycle_id>/payment-results/", name="payment_results")
@personal_data_required
def payment_results(request, cycle_id):
    cycle = selectors.access_cycle(request.user, cycle_id)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise errors.ValidationFailed(_("choose the results file"), [])
        rows = exports.results_read(upload.name, upload.read())
        results = services.payment_results_import(actor=request.user, cycle=cycle, rows=rows)
    except errors.DomainError as exc:
        _refused(request, exc)
        return redirect("aid:program", program_id=cycle.program_id)
    counts = {s: sum(1 for r in results if r.status == s) for s in ("created", "exists", "invalid")}
    messages.success(
        request, _("Results: %(created)s recorded, %(exists)s already known, %(invalid)s invalid.") % counts
    )
    for result in [r for r in results if r.status == "invalid"][:20]:
        messages.error(request, "; ".join(e["message"] for e in result.errors))
    return redirect("aid:program", program_id=cycle.program_id)


# --- deliveries (phone) ---------------------------------------------------------------------------------------


@pages.get("deliveries/", name="deliveries")
@personal_data_required
def deliveries(request):
    """A volunteer's list: entitlements of approved cycles in their area not yet delivered."""
    due = list(selectors.entitlements_to_deliver(user=request.user).order_by("org_path", "id")[:LIST_LIMIT])
    return render(request, "aid/deliveries.html", {"due": due})


@pages.route("deliveries/<int:entitlement_id>/", name="deliver")
@personal_data_required
def deliver(request, entitlement_id):
    """Deliver one entitlement with proof: the household's one-time code, a signature/photo, or a supervisor."""
    user = request.user
    if not may(user, Can.DELIVER):
        raise PermissionDenied
    entitlement = selectors.access_entitlement(user, entitlement_id)
    status = 200
    if request.method == "POST":
        status = 422
        try:
            if request.POST.get("action") == "send_code":
                services.delivery_code_send(actor=user, entitlement=entitlement)
                messages.success(request, _("A code was sent to the household's mobile."))
                return redirect("aid:deliver", entitlement_id=entitlement.pk)
            try:
                delivery_id = uuid.UUID(request.POST.get("delivery_id", ""))
            except ValueError:
                delivery_id = uuid.uuid4()
            services.delivery_record(
                actor=user,
                entitlement=entitlement,
                delivery_id=delivery_id,
                proof=request.POST.get("proof", ""),
                code=request.POST.get("code", ""),
                proof_file=request.FILES.get("proof_file"),
            )
            messages.success(request, _("Delivery recorded."))
            return redirect("aid:deliveries")
        except errors.DomainError as exc:
            if isinstance(exc, errors.NotFound | errors.PermissionDenied):
                _refused(request, exc)
            status = exc.status_code
            messages.error(request, exc.summary())
    delivered = Delivery.objects.filter(entitlement=entitlement).first()
    context = {
        "entitlement": entitlement,
        "program": entitlement.cycle.program,
        "delivered": delivered,
        "delivery_id": uuid.uuid4(),
        "proofs": Proof.choices,
        "is_supervisor": may(user, Can.MANAGE_STOCK),
    }
    return render(request, "aid/deliver.html", context, status=status)


# --- equipment loans ------------------------------------------------------------------------------------------


@pages.route("loans/", name="loans")
@personal_data_required
def loans(request):
    """Who has which unit now (overdue first), units to clean, and lending a free unit to a patient."""
    user = request.user
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "lend":
                unit = selectors.access_equipment_unit(user, request.POST.get("unit"))
                person = (
                    persons_visible(user=user)
                    .filter(national_code=request.POST.get("national_code", ""))
                    .first()
                )
                if person is None:
                    raise errors.ValidationFailed(
                        _("no such person in your area"),
                        [errors.field_error("national_code", _("not found"))],
                    )
                services.loan_lend(
                    actor=user, unit=unit, person=person, days=int(request.POST.get("days") or 14)
                )
                messages.success(request, _("Unit lent."))
            elif action == "return":
                loan = selectors.access_loan(user, request.POST.get("loan"))
                services.loan_return(actor=user, loan=loan)
                messages.success(request, _("Unit returned; clean it before lending it again."))
            elif action == "cleaned":
                unit = selectors.access_equipment_unit(user, request.POST.get("unit"))
                services.equipment_unit_cleaned(actor=user, unit=unit)
                messages.success(request, _("Unit cleaned and available."))
            else:
                raise Http404("no such action")
            return redirect("aid:loans")
        except errors.DomainError as exc:
            _refused(request, exc)
        except ValueError:
            messages.error(request, _("Check the number of days."))
    today = timezone.localdate()
    open_loans = list(selectors.loans_open(user=user).order_by("due_on", "id")[:LIST_LIMIT])
    for loan in open_loans:
        loan.overdue = loan.due_on < today
    units = selectors.equipment_units_visible(user=user).select_related("item")
    context = {
        "loans": open_loans,
        "available": list(units.filter(status=EquipmentUnit.Status.AVAILABLE)[:LIST_LIMIT]),
        "cleaning": list(units.filter(status=EquipmentUnit.Status.CLEANING)[:LIST_LIMIT]),
        "can_lend": may(user, Can.MANAGE_STOCK),
    }
    return render(request, "aid/loans.html", context)


# --- stock ----------------------------------------------------------------------------------------------------


@pages.route("stock/", name="stock")
@login_required
def stock(request):
    """Stock of the warehouses in the user's area; receipts and transfers for those who manage stock."""
    user = request.user
    warehouses = selectors.warehouses_visible(user=user)
    if request.method == "POST" and request.POST.get("action") in ("new_warehouse", "new_item"):
        try:
            if request.POST["action"] == "new_item":
                services.item_create(
                    actor=user,
                    code=request.POST.get("code", ""),
                    name=request.POST.get("name", ""),
                    unit=request.POST.get("unit", "unit"),
                    indivisible=request.POST.get("divisible") != "on",
                    perishable=request.POST.get("perishable") == "on",
                )
            else:
                unit = OrgUnit.objects.filter(code=request.POST.get("org_unit", "").strip()).first()
                if unit is None:
                    raise errors.ValidationFailed(
                        _("unknown org unit"), [errors.field_error("org_unit", "?")]
                    )
                services.warehouse_create(
                    actor=user,
                    code=request.POST.get("code", ""),
                    name=request.POST.get("name", ""),
                    org_unit=unit,
                )
            messages.success(request, _("Saved."))
            return redirect("aid:stock")
        except errors.DomainError as exc:
            _refused(request, exc)
    elif request.method == "POST":
        try:
            warehouse = selectors.access_warehouse(user, request.POST.get("warehouse"))
            item = errors.first_or_not_found(Item.objects.all(), request.POST.get("item"), "item")
            quantity = request.POST.get("quantity", "")
            lot = request.POST.get("lot", "").strip()
            if request.POST.get("action") == "transfer":
                target = errors.first_or_not_found(
                    Warehouse.objects.all(), request.POST.get("target"), "warehouse"
                )
                services.stock_transfer(
                    actor=user, source=warehouse, target=target, item=item, quantity=quantity, lot=lot
                )
            else:
                expiry = request.POST.get("expiry") or None
                services.stock_receive(
                    actor=user,
                    warehouse=warehouse,
                    item=item,
                    quantity=quantity,
                    lot=lot,
                    expiry=dt.date.fromisoformat(expiry) if expiry else None,
                    source=request.POST.get("note", ""),
                )
            messages.success(request, _("Stock updated."))
            return redirect("aid:stock")
        except errors.DomainError as exc:
            _refused(request, exc)
        except ValueError:
            messages.error(request, _("Check the expiry date (YYYY-MM-DD)."))
    context = {
        "levels": list(selectors.stock_levels_visible(user=user)[:LIST_LIMIT]),
        "warehouses": list(warehouses),
        "targets": list(Warehouse.objects.order_by("org_path")[:LIST_LIMIT]),
        "items": list(Item.objects.order_by("name")),
        "can_manage": may(user, Can.MANAGE_STOCK),
        "can_define": may(user, Can.MANAGE_PROGRAMS),
        "orders": list(
            TransferOrder.objects.filter(status=TransferOrder.Status.ORDERED)
            .filter(Q(source__in=warehouses) | Q(target__in=warehouses))
            .select_related("source", "target", "item")[:LIST_LIMIT]
        ),
    }
    return render(request, "aid/stock.html", context)


# --- allocation of scarce stock -------------------------------------------------------------------------------


def _reaches(warehouse, region_path: str) -> bool:
    """A warehouse reaches a region in its own province (or below), or anywhere if it is national."""
    parts = warehouse.org_path.split(".")[:-1]
    if len(parts) <= 1:
        return True
    province = ".".join(parts[:2]) + "."
    return path_within(region_path, [province])


@pages.route("allocate/", name="allocate")
@login_required
def allocate_page(request):
    """A coordinator picks an item and a region level; Mahalle proposes how to spread the scarce stock over the
    regions' need (patients at home with low SpO2 not yet served, weighted by vulnerability), explains it, and on
    approval creates transfer orders."""
    user = request.user
    if not may(user, Can.MANAGE_PROGRAMS):
        raise PermissionDenied
    data = request.POST if request.method == "POST" else request.GET
    items = list(Item.objects.order_by("name"))
    item = next((i for i in items if str(i.pk) == data.get("item")), items[0] if items else None)
    try:
        level = min(max(int(data.get("level") or 2), 1), 5)
    except ValueError:
        level = 2
    warehouses = {w.code: w for w in selectors.warehouses_visible(user=user).select_related("org_unit")}
    context = {
        "items": items,
        "item": item,
        "level": level,
        "levels": [
            (1, _("province")),
            (2, _("county")),
            (3, _("district")),
            (4, _("neighborhood")),
            (5, _("health post")),
        ],
    }
    if item is None:
        return render(request, "aid/allocate.html", context)
    if request.method == "POST" and request.POST.get("action") == "approve":
        moves = []
        try:
            for line in request.POST.getlist("move"):
                source_code, target_code, units = line.split("|")
                source = warehouses.get(source_code)
                target = Warehouse.objects.filter(code=target_code).first()
                if source is None or target is None:
                    raise errors.ValidationFailed(_("unknown warehouse"), [errors.field_error("move", line)])
                moves.append((source, target, int(units)))
            orders = services.transfer_orders_create(
                actor=user, item=item, moves=moves, reason=request.POST.get("reason", "allocation")
            )
            messages.success(request, _("%(n)s transfer orders created.") % {"n": len(orders)})
            return redirect("aid:stock")
        except errors.DomainError as exc:
            _refused(request, exc)
        except ValueError:
            messages.error(request, _("The proposal was not valid; propose again."))
    on_hand = selectors.available_units(warehouse_ids=[w.pk for w in warehouses.values()], item=item)
    stock_rows = [(w, on_hand[w.pk]) for w in warehouses.values() if on_hand.get(w.pk)]
    need = selectors.oxygen_need_by_region(user=user, level=level, item=item)
    context.update({"stock": stock_rows, "need": need})
    if request.method == "POST" and request.POST.get("action") == "propose" and stock_rows and need:
        reach = [
            (w.code, region["region"], 0.0)
            for w, _units in stock_rows
            for region in need
            if _reaches(w, region["path"])
        ]
        try:
            result = allocate(
                {w.code: units for w, units in stock_rows},
                [(r["region"], r["need"], r["weight"]) for r in need],
                reach,
            )
        except AllocationInputError as exc:
            messages.error(request, str(exc))
            return render(request, "aid/allocate.html", context, status=422)
        targets = {
            w.org_unit.code: w
            for w in Warehouse.objects.filter(org_unit__code__in=[r["region"] for r in need])
        }
        proposal = []
        for (source_code, region_code), units in sorted(result.units.items()):
            target = targets.get(region_code)
            proposal.append(
                {"source": warehouses[source_code], "region": region_code, "units": units, "target": target}
            )
        context.update(
            {
                "result": result,
                "proposal": proposal,
                "missing_targets": sorted({p["region"] for p in proposal if p["target"] is None}),
            }
        )
    return render(request, "aid/allocate.html", context)


@pages.post("stock/orders/<int:order_id>/execute/", name="transfer_order_execute")
@login_required
def transfer_order_execute(request, order_id):
    order = selectors.access_transfer_order(request.user, order_id)
    try:
        services.transfer_order_execute(actor=request.user, order=order)
        messages.success(request, _("Transfer done."))
    except errors.DomainError as exc:
        _refused(request, exc)
    return redirect("aid:stock")
