"""Writing a prepared batch: one lookup of the natural keys already stored, then the new records through the
registry's one creation path (services.persons_create_many / households_create_many: bulk insert, household heads,
one audit event per record with the job as its source). Rows already in the registry count as existing."""

from mahalle.core.bulk import field_names, rows_where_in
from mahalle.registry.models import Household, Person
from mahalle.registry.services import households_create_many, persons_create_many

from .reading import PreparedBatch

_PERSON_FIELDS = field_names(Person)


class PersonWriter:
    def __init__(self, *, actor, source: dict):
        self.actor, self.source = actor, source
        self.household_index = _PERSON_FIELDS.index("household_id")
        self.org_unit_index = _PERSON_FIELDS.index("org_unit_id")

    def write(self, batch: PreparedBatch) -> tuple[int, int]:
        """(created, existing); rows that cannot be written go to the batch's errors."""
        candidates = batch.candidates
        existing_codes = {
            row[0] for row in rows_where_in(Person, "national_code", [c[1] for c in candidates if c[1]], ())
        }
        existing_rids = dict(
            rows_where_in(Person, "external_id", [c[2] for c in candidates if c[2]], ("national_code",))
        )
        households = {
            ext: (pk, unit)
            for ext, pk, unit in rows_where_in(
                Household, "external_id", list({c[3] for c in candidates if c[3]}), ("id", "org_unit")
            )
        }
        new_rows, existing = [], 0
        for number, code, rid, household_ext, row in candidates:
            if (code and code in existing_codes) or (not code and rid in existing_rids):
                existing += 1
                continue
            error = None
            if code and rid in existing_rids:
                error = (
                    "record_id",
                    f"already used by another person (national code {existing_rids[rid] or 'none'})",
                )
            elif household_ext:
                household = households.get(household_ext)
                if household is None:
                    error = ("household_id", "no household has this id; import the households file first")
                elif household[1] != row[self.org_unit_index]:
                    error = ("household_id", "the household belongs to another health post")
                else:
                    row[self.household_index] = household[0]
            if error:
                batch.errors.append(
                    (number, error[0], error[1], rid if error[0] == "record_id" else household_ext)
                )
                batch.invalid += 1
                continue
            new_rows.append(row)
        if new_rows:
            persons_create_many(actor=self.actor, source=self.source, rows=new_rows)
        return len(new_rows), existing


class HouseholdWriter:
    def __init__(self, *, actor, source: dict):
        self.actor, self.source = actor, source

    def write(self, batch: PreparedBatch) -> tuple[int, int]:
        existing_ext = {
            row[0] for row in rows_where_in(Household, "external_id", [c[1] for c in batch.candidates], ())
        }
        new_rows = [row for _, ext, row in batch.candidates if ext not in existing_ext]
        if new_rows:
            households_create_many(actor=self.actor, source=self.source, rows=new_rows)
        return len(new_rows), len(batch.candidates) - len(new_rows)
