"""`prefix` lookup: an index-friendly "starts with" for materialized paths and search keys.

Django's `startswith` becomes `LIKE 'x%' ESCAPE '\\'` which SQLite cannot answer from an ordinary index
(its LIKE optimisation needs case_sensitive_like or a NOCASE index). The same question asked as a range,
`col >= 'x' AND col < 'y'` (y = x with its last character incremented), is an index range scan on SQLite's
binary collation. On PostgreSQL we keep LIKE, which the `varchar_pattern_ops` index Django creates for every
indexed CharField answers whatever the database collation.
"""

from django.db.models import CharField, Lookup


@CharField.register_lookup
class Prefix(Lookup):
    lookup_name = "prefix"

    def as_sql(self, compiler, connection):  # SQLite and any other backend: a range
        lhs, lhs_params = self.process_lhs(compiler, connection)
        prefix = str(self.rhs)
        if not prefix:
            return "1=1", []
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return f"({lhs} >= %s AND {lhs} < %s)", [*lhs_params, prefix, *lhs_params, upper]

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        prefix = str(self.rhs).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"{lhs} LIKE %s", [*lhs_params, prefix + "%"]
