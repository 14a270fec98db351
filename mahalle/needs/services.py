"""Every write of the needs registry. The work lives in small modules, gathered here as the app's one entry
point (other apps and the aid helper import from here):

- lists.py: agency list upload and reading into SourceRecords (progress, per-row errors, idempotent)
- linking.py: linkage runs (thin around needs.linkage.engine), review decisions, merges and splits
- intake.py: needs from screening visits, follow-ups and deaths (hooks + catch-up)
- vulnerability.py: the transparent vulnerability score
"""

from .intake import (  # noqa: F401
    needs_catch_up,
    needs_record_from_death,
    needs_record_from_follow_up,
    needs_record_from_visit,
)
from .linking import (  # noqa: F401
    agency_list_link,
    agency_list_link_request,
    review_pair_decide,
    review_pair_undo,
    source_record_relink,
    source_record_split,
    thresholds,
)
from .lists import agency_list_create, agency_list_read, agency_list_submit  # noqa: F401
from .vulnerability import household_vulnerability_compute, household_vulnerability_refresh  # noqa: F401
