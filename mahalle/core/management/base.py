"""What the `mahalle` operator subcommands share: a `--json` flag for their result, written as one JSON line or a
plain sentence; `--day`/`--since` dates; and (OperatorCommand) a database error reported as a clear command error
instead of a traceback (usually: the schema has not been created yet)."""

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError


def database_error(exc: DatabaseError) -> CommandError:
    return CommandError(f"database error: {exc} (has `mahalle migrate` been run?)")


def add_json_flag(parser, help: str = "print the result as JSON") -> None:  # noqa: A002 (argparse's name)
    parser.add_argument("--json", action="store_true", help=help)


def day_option(value: str | None, flag: str, *, default: dt.date) -> dt.date:
    """The date given to `flag` (YYYY-MM-DD), or `default` when the flag was not given."""
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{flag} must be a date as YYYY-MM-DD, not '{value}'") from exc


class ResultCommand(BaseCommand):
    """A command that ends by printing its result (`write_result`), as JSON with `--json` (its help: `json_help`).
    A command with arguments of its own adds them and calls `super().add_arguments(parser)` where `--json` goes."""

    json_help = "print the result as JSON"

    def add_arguments(self, parser):
        add_json_flag(parser, self.json_help)

    def write_result(self, result, *, as_json: bool, plain: str, ensure_ascii: bool = False) -> None:
        """The result as one JSON line (`--json`), else the plain text `plain` (one or more lines)."""
        self.stdout.write(json.dumps(result, ensure_ascii=ensure_ascii) if as_json else plain)


class OperatorCommand(ResultCommand):
    """A command whose work is `run(**options)`; a `DatabaseError` from it becomes a `CommandError`."""

    def handle(self, *args, **options):
        try:
            return self.run(**options)
        except DatabaseError as exc:
            raise database_error(exc) from exc

    def run(self, **options):
        raise NotImplementedError
