"""Bulk inserts for synthetic data, on core.bulk's inserter (COPY on PostgreSQL, executemany on SQLite).

A low-level writer with no audit event of its own: the synth services that call it record one event per run.
"""

import itertools

from django.db import connection, models
from django.utils import timezone

from mahalle.core.bulk import BulkInserter

BATCH_SIZE = 5000


def rows_insert(model, names: list[str], rows, *, progress=None) -> None:
    """Insert tuples (values in the order of `names`, field names) in batches: bulk_create's per-value
    preparation costs more than the insert itself at this volume. UUIDs are adapted here for the backend; every
    field not named gets its default (created/modified get now)."""
    fields = [model._meta.get_field(name) for name in names]
    now = timezone.now()
    rest = [f for f in model._meta.concrete_fields if f not in fields]
    constants = tuple(
        f.get_db_prep_save(
            now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default(),
            connection,
        )
        for f in rest
    )
    inserter = BulkInserter(model, fields=[f.attname for f in [*fields, *rest]])
    native_uuid = connection.features.has_native_uuid_field
    uuid_at = [
        i
        for i, f in enumerate(fields)
        if isinstance(f.target_field if f.is_relation else f, models.UUIDField)
    ]

    def adapt(row):
        if not native_uuid:
            row = list(row)
            for i in uuid_at:
                row[i] = row[i].hex
        return (*row, *constants)

    iterator = iter(rows)
    while batch := tuple(itertools.islice(iterator, BATCH_SIZE)):
        inserter.insert([adapt(row) for row in batch])
        if progress:
            progress(len(batch))
