"""`@service`: what makes a function a service — atomic, audited in the same transaction, and checked.

Every public function of an app's services module (or services package) is decorated with `@service`:

    @service
    def case_classify(*, actor, case_id, ...): ...            # one transaction (transaction.atomic)

    @service(item_by_item=True)
    def follow_ups_record(*, actor, items): ...                # commits item by item: each item in its own
                                                               # transaction with its own audit event

    @service(unaudited="derived aggregates recomputed from the cases; no actor and no personal data")
    def rt_refresh(*, org_unit_ids=None): ...                  # atomic, and says why it writes no audit event

The conventions test (mahalle/tests/test_conventions.py) finds every public function of every services module and
fails when one lacks the decorator. With `MAHALLE_AUDIT_PROBE` on (the test settings), the decorator also proves
the promise at run time, on the real arguments the test suite passes: before the first calls of each service in a
test process, it runs the service once more on copies of its arguments with every audit write failing, inside a
transaction that is then rolled back, and checks that no table changed (see core.audit_probe). A service that
writes without auditing, or writes outside its transaction, fails the test that called it.
"""

import functools

from django.db import transaction

from . import audit_probe


def service(func=None, *, item_by_item: bool = False, unaudited: str = ""):
    """`unaudited` is the reason a service writes no audit event (system recomputations, reference data): the
    conventions test lists them, and the probe leaves them alone."""

    def decorate(f):
        body = f if item_by_item else transaction.atomic(f)

        @functools.wraps(f)
        def run(*args, **kwargs):
            if not unaudited and audit_probe.wanted(run):
                audit_probe.probe(run, body, args, kwargs)
            return body(*args, **kwargs)

        run.mahalle_service = {"item_by_item": item_by_item, "unaudited": unaudited}
        return run

    return decorate if func is None else decorate(func)
