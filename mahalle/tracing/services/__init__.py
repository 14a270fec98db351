"""Writes of contact tracing: contacts, their daily follow-up, events, who-infected-whom, and cluster upkeep.

A façade: the services live in the modules of this package, by entity, and are all importable from here
(`from mahalle.tracing.services import contact_add`):

- contacts.py: add, list the household, confirm, remove, assign;
- follow_ups.py: a phone's batch of contact follow-ups (core.batch), referrals for a test;
- events.py: events and their attendees;
- chains.py: who infected whom, a contact who became a case;
- hooks.py: what a new case sets off (`case_created`, called through the cases event seam) and the catch-up;
- clusters.py: cluster upkeep (union by size), private to these services.

Every service is a `@service` (core.service): atomic, with its audit events in the same transaction; the follow-up
batch and the catch-up commit item by item.

Who may do what (jurisdiction on top; accounts.capabilities):
- list, add, confirm and remove contacts, record their follow-ups, record events and attendees: Can.TRACE
  (every role that may write personal data, field volunteers included), on a case they may see;
- assign contacts to a tracer or a tracing team, record who infected whom: Can.ASSIGN_TRACING (supervisors and
  up).

Quarantine: a confirmed contact is in quarantine at home from confirmation until `follow_up_end` (last exposure
+ MAHALLE_TRACING["FOLLOW_UP_DAYS"], default 14), recorded on the contact and followed through ContactFollowUp
(not cases.Isolation: see docs/tracing.md, "Quarantine").
"""

from .chains import contacts_case_created, transmission_link_create
from .contacts import contact_add, contact_assign, contact_confirm, contact_remove, contacts_list_household
from .events import event_attendees_add, event_create
from .follow_ups import contact_follow_ups_record
from .hooks import case_created, contacts_link_new_cases

__all__ = [
    "case_created",
    "contact_add",
    "contact_assign",
    "contact_confirm",
    "contact_follow_ups_record",
    "contact_remove",
    "contacts_case_created",
    "contacts_link_new_cases",
    "contacts_list_household",
    "event_attendees_add",
    "event_create",
    "transmission_link_create",
]
