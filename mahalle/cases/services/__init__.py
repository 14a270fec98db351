"""Writes of the health side: test orders, lab results, cases, isolation, follow-ups and alerts.

Every public function is a @service (core.service): atomic, with its audit event in the same transaction —
except `follow_ups_record`, which commits item by item when a concurrent write clashes (each stored item with
its own audit event). What a case triggers in the apps above (screening coverage, tracing chains, needs, Rt)
is published as events (cases.events), sent inside these transactions.

The work lives in one module per entity, gathered here as the app's one entry point
(`from mahalle.cases.services import …`):

- lab.py: test orders (referrals, traced contacts), samples, lab results and their corrections
- case.py: classification from the results, manual classification, hospitalisation, outcome
- isolation.py: quarantine places and isolation
- follow_up.py: daily follow-ups of isolated people (a phone's batch)
- alert.py: the supervisor's alerts

Who may do what (accounts.capabilities; jurisdiction always applies on top: a record outside the actor's
subtree is unknown to them):
- sample a referral, record or correct lab results, change a case's classification, hospitalisation or outcome,
  start and release isolation, resolve alerts: Can.MANAGE_CASES — post supervisors (for their post), county,
  province and national coordinators, administrators. Labs post results with an API token of such a user (a
  coordinator's or an administrator's account set up for the lab); there is no separate lab role.
- create quarantine places: Can.CREATE_PLACES — coordinators and administrators, inside their jurisdiction.
- record daily follow-ups: Can.RECORD_FOLLOW_UPS — every role that may write personal data (field volunteers
  included).
"""

from .alert import alert_raise, alert_resolve, missed_follow_ups_flag  # noqa: F401
from .case import (  # noqa: F401
    case_classification_change,
    case_hospitalisation_record,
    case_outcome_record,
)
from .follow_up import follow_ups_record  # noqa: F401
from .isolation import isolation_release, isolation_start, quarantine_place_create  # noqa: F401
from .lab import (  # noqa: F401
    lab_results_record,
    test_order_create,
    test_order_create_for_referral,
    test_order_sample,
    test_orders_create_for_referrals,
    test_result_correct,
)
