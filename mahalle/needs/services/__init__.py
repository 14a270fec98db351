"""Every write of the needs registry. The work lives in small modules, gathered here as the app's one entry
point (other apps, the pages, the API and the tasks import from here):

- lists.py: agency list upload, and the writing of its rows into SourceRecords (idempotent)
- linking.py: the request of a linkage run, and the writing of a run's answer
- review.py: review decisions, merges and splits
- intake.py: needs from screening visits, follow-ups and deaths (hooks + catch-up)
- vulnerability.py: the transparent vulnerability score
- _links.py, _persons.py: private helpers (a record's person changes; registry persons for unmatched records)

Every public function here is a @service (core.service): atomic with its audit event, or committing item by item
and saying so. The long runs that call them (reading a list in batches, a linkage run around the engine) are
needs.jobs; the tasks queue them (needs.tasks). Reads (the candidate export, the score's inputs) are in
needs.selectors; rules without queries in needs.rules.
"""

from .intake import (
    needs_catch_up,
    needs_record_from_death,
    needs_record_from_follow_up,
    needs_record_from_visit,
)
from .linking import agency_list_link_request, agency_list_link_write
from .lists import agency_list_create, agency_list_submit, source_records_import
from .review import review_pair_decide, review_pair_undo, source_record_relink, source_record_split
from .vulnerability import household_vulnerability_refresh

__all__ = [
    "agency_list_create",
    "agency_list_link_request",
    "agency_list_link_write",
    "agency_list_submit",
    "household_vulnerability_refresh",
    "needs_catch_up",
    "needs_record_from_death",
    "needs_record_from_follow_up",
    "needs_record_from_visit",
    "review_pair_decide",
    "review_pair_undo",
    "source_record_relink",
    "source_record_split",
    "source_records_import",
]
