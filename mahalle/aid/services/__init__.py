"""Writes of the aid area, gathered here as the app's one entry point (`from mahalle.aid import services`):

- programs.py: define a program and its cycles, run a cycle, decide the double-dipping flags, approve;
  the daily schedule (cycles_due_run);
- computing.py: a running cycle's computation (the eligible households as entitlements, then the flags);
- stock.py: items, warehouses, and the stock ledger (receive, transfer, write off, adjust);
- deliveries.py: one-time codes and deliveries at the door;
- loans.py: equipment lent to patients at home;
- payments.py: payment instructions of cash cycles and their results;
- transfers.py: transfer orders of an approved allocation of scarce stock, and their dispatch;
- _common.py (who may act, quantities) and _ledger.py (the one stock change: lock → move → audit).

Every public function is a `@service` (core.service): atomic, and audited in the same transaction. Three commit
item by item and say so (cycle_compute, cycles_due_run, delivery_record): each committed item carries its audit.

Who may do what (accounts.capabilities; jurisdiction always applies on top):
- define programs and items, run and approve cycles, decide flags, payments, approve allocations:
  Can.MANAGE_PROGRAMS (county, province, national coordinators, administrators) for programs in their subtree;
- receive, transfer, write off and adjust stock, confirm deliveries as a supervisor, lend equipment:
  Can.MANAGE_STOCK (those and post supervisors), for warehouses in their subtree;
- record deliveries and send delivery codes: Can.DELIVER (every role that writes personal data, field volunteers
  included), for entitlements in their subtree.
"""

from .computing import COMPUTE_BATCH, ENTITLEMENT_COLUMNS, cycle_compute  # noqa: F401
from .deliveries import CODE_MAX_ATTEMPTS, CODE_TTL, delivery_code_send, delivery_record  # noqa: F401
from .loans import LOAN_DAYS, equipment_unit_add, equipment_unit_cleaned, loan_lend, loan_return  # noqa: F401
from .payments import RESULT_STATUSES, payment_results_import, payments_export_rows  # noqa: F401
from .programs import (  # noqa: F401
    cycle_approve,
    cycle_queued,
    cycle_run_request,
    cycles_due_run,
    entitlement_decide,
    program_create,
)
from .stock import (  # noqa: F401
    item_create,
    stock_adjust,
    stock_receive,
    stock_transfer,
    stock_write_off,
    warehouse_create,
)
from .transfers import transfer_order_execute, transfer_orders_create  # noqa: F401
