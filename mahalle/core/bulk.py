"""Rows in bulk, in the driver's own terms: for the few write paths where building a model instance per row costs
more than the database does (the registry import: millions of persons). Table and column names come from the
model's meta, quoted; values are always parameters.

A *row* holds a model's concrete fields in `_meta.concrete_fields` order (`field_names(model)`), each value as
the driver takes it (on SQLite dates as ISO text and UUIDs as 32 hex digits, as Django writes them).
"""

from django.db import connection


def field_names(model) -> list[str]:
    """The attnames of a row's values, in order (e.g. "org_unit_id" for the org_unit foreign key)."""
    return [f.attname for f in model._meta.concrete_fields]


class BulkInserter:
    """Insert rows as fast as the backend allows: COPY on PostgreSQL, executemany on SQLite. A row holds every
    concrete field, or only `fields` (attnames, in that order; the others take their database default, e.g. an
    auto-incremented id)."""

    def __init__(self, model, fields: list[str] | None = None):
        quote = connection.ops.quote_name
        self.table = quote(model._meta.db_table)
        chosen = model._meta.concrete_fields
        if fields is not None:
            by_name = {f.attname: f for f in chosen}
            chosen = [by_name[name] for name in fields]
        columns = [quote(f.column) for f in chosen]
        self.columns = ", ".join(columns)
        self.placeholders = ", ".join(["%s"] * len(columns))

    def insert(self, rows: list[list]) -> None:
        if not rows:
            return
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {self.table} ({self.columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                sql = f"INSERT INTO {self.table} ({self.columns}) VALUES ({self.placeholders})"  # noqa: S608
                cursor.executemany(sql, rows)


def rows_where_in(model, key: str, values: list, columns: tuple[str, ...]) -> list[tuple]:
    """(key, *columns) of the rows of `model` whose field `key` is one of `values`: one query per chunk, no ORM
    per value."""
    if not values:
        return []
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    selected = ", ".join(quote(model._meta.get_field(c).column) for c in (key, *columns))
    key = quote(model._meta.get_field(key).column)
    found: list = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT {selected} FROM {table} WHERE {key} = ANY(%s)", [values])  # noqa: S608
            return cursor.fetchall()
        size = min(5000, connection.features.max_query_params or 999)
        for start in range(0, len(values), size):
            chunk = values[start : start + size]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"SELECT {selected} FROM {table} WHERE {key} IN ({marks})", chunk)  # noqa: S608
            found.extend(cursor.fetchall())
    return found
