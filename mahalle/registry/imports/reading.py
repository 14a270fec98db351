"""Reading an import in batches: rows are read (formats.Source), cleaned (cleaning) and grouped into prepared
batches, in pure Python without the database, so that a forked reader process (core.ingest.prefetch_in_process)
prepares batch k+1 while the main process and the database write batch k."""

import dataclasses
from collections.abc import Iterator

from mahalle.core.ingest import record_batches


@dataclasses.dataclass
class PreparedBatch:
    number: int
    rows: int = 0  # records read, valid or not
    first_row: int = 0
    last_row: int = 0
    candidates: list = dataclasses.field(default_factory=list)  # (row number, keys…, insert values)
    errors: list = dataclasses.field(default_factory=list)  # (row number, field, message, value)
    invalid: int = 0


def prepared_batches(
    cleaner, records: Iterator[tuple[int, list]], *, skip: int, batch_size: int, number: int
) -> Iterator[PreparedBatch]:
    """Batches `number`, `number + 1`, … of the records after the first `skip` (committed before: the cleaner
    remembers their natural keys), each row cleaned by `cleaner` (a cleaning.RowCleaner)."""
    for chunk in record_batches(records, skip=skip, size=batch_size, skip_row=cleaner.natural_key_only):
        batch = PreparedBatch(number=number, rows=len(chunk), first_row=chunk[0][0], last_row=chunk[-1][0])
        cleaner.new_batch(batch_size)
        for row_number, values in chunk:
            errors: list = []
            candidate = cleaner.clean(row_number, values, errors)
            if candidate is None:
                batch.invalid += 1
                batch.errors.extend((row_number, field, message, value) for field, message, value in errors)
            else:
                batch.candidates.append(candidate)
        yield batch
        number += 1
