"""Bulk import of households and persons from CSV or XLSX: the engine behind `mahalle import`, the upload API and
the background task. The registry's use of the one file-ingest driver (core.ingest):

- formats: reading CSV/XLSX files (encodings, hostile files) — also used by needs lists and the lab-results command;
- cleaning: the columns of each kind of file and the row cleaners (pure Python);
- reading: rows read and cleaned into prepared batches (in a reader process);
- writing: a prepared batch written through registry.services.persons_create_many / households_create_many;
- jobs: the job run (ImportRun, import_job_run), its summary.

Creating and uploading a job are services (registry.services.import_job_create, import_job_upload), queued by
registry.tasks.import_job_submit; jobs are read through registry.selectors (import_jobs_visible, access_import_job).
"""

from mahalle.core.ingest import ImportConflict, ImportFileError, UploadTooLarge, file_sha256
from mahalle.registry.services import import_job_create

from .cleaning import (
    FLAG_VALUES,
    HOUSEHOLD_COLUMNS,
    PERSON_COLUMNS,
    RELATION_WORDS,
    HouseholdRowCleaner,
    PersonRowCleaner,
    canonical_mobile,
    canonical_national_code,
)
from .formats import Source, detect_encoding
from .jobs import ImportRun, import_job_percent, import_job_run, import_job_summary
from .reading import PreparedBatch

__all__ = [
    "FLAG_VALUES",
    "HOUSEHOLD_COLUMNS",
    "PERSON_COLUMNS",
    "RELATION_WORDS",
    "HouseholdRowCleaner",
    "ImportConflict",
    "ImportFileError",
    "ImportRun",
    "PersonRowCleaner",
    "PreparedBatch",
    "Source",
    "UploadTooLarge",
    "canonical_mobile",
    "canonical_national_code",
    "detect_encoding",
    "file_sha256",
    "import_job_create",
    "import_job_percent",
    "import_job_run",
    "import_job_summary",
]
