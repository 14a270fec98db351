"""What a case triggers: the events the cases side publishes, and who listens to them.

The cases services publish; the apps above cases subscribe, each in its `AppConfig.ready()` through its own
`receivers.py`. cases imports none of its subscribers: a new consequence of a lab result is a new receiver in
the app that owns it, and reading that app's receivers.py tells what triggers its work.

Every event is sent inside the publishing service's transaction, once the write it announces is made, and its
receivers write in that same transaction (with their own audit events). A receiver that raises rolls the whole
service back: the lab result, the case and every other write of that call.

- `positive_result_recorded(person, on, order)`, sender TestOrder — published by services/case.py (as a lab
  result or its correction is applied) when a person's first positive result is stored.
  Subscriber: screening (`coverage_record_positive`: a positive of the campaign that screened the person).
- `case_created(actor, case)`, sender Case — published by services/case.py when a positive result opens a
  case. Subscriber: tracing (`case_created`: the case joins its chain, its household is listed as contacts).
- `case_confirmed(actor, case)`, sender Case — published by services/case.py when an open case becomes
  confirmed (a later result, or a supervisor's classification). Subscriber: tracing (`case_created` again;
  idempotent).
- `cases_changed(org_unit_ids)`, sender Case — published by services/case.py when a case is created or its
  classification changes (before `case_created` / `case_confirmed`). Subscriber: analytics
  (`rt_refresh_after_commit`: one Rt refresh task per transaction, enqueued after the commit).
- `case_died(actor, case)`, sender Case — published by services/case.py (`case_outcome_record`) when a death
  is recorded, before the person's isolation is released. Subscriber: needs (`needs_record_from_death`: a
  household head's death is the household's lost breadwinner).

Each event is sent once per case and occasion. Receivers take `sender` and the payload as keyword arguments
and must accept `**kwargs` (Django's rule), so that an event can gain a field without breaking them.

Why `django.dispatch.Signal`: its `send()` calls the receivers synchronously, in the caller's thread and
transaction, in the order they were connected, and lets their exceptions propagate (unlike `send_robust`), so
a failing receiver fails and rolls back the service that published the event. `dispatch_uid` makes connecting
idempotent. These are the project's own events, not model signals (post_save & co. are not used: they fire on
every save, also from fixtures and migrations, and say nothing about why).
"""

from django.dispatch import Signal

positive_result_recorded = Signal()  # sender=TestOrder; person, on (the result's date), order
case_created = Signal()  # sender=Case; actor, case
case_confirmed = Signal()  # sender=Case; actor, case
cases_changed = Signal()  # sender=Case; org_unit_ids
case_died = Signal()  # sender=Case; actor, case
