import getpass
import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from mahalle.accounts.models import Role
from mahalle.accounts.services import user_create
from mahalle.core.errors import ValidationFailed
from mahalle.geo.models import OrgUnit


def error_text(exc: ValidationFailed) -> str:
    details = "; ".join(f"{e['field']}: {e['message']}" for e in getattr(exc, "errors", []) or [])
    return f"{exc}" + (f" ({details})" if details else "")


class Command(BaseCommand):
    help = "Create a user with a role and one or more org units (the user's jurisdiction)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, help="one of: " + ", ".join(Role.values))
        parser.add_argument(
            "--org-unit", action="append", required=True, metavar="CODE", help="org unit code (repeatable)"
        )
        parser.add_argument("--password", help="the password (prompted for when omitted)")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        try:
            return self.run(**options)
        except DatabaseError as exc:
            raise CommandError(f"database error: {exc} (has `mahalle migrate` been run?)") from exc

    def run(self, **options):
        if options["role"] not in Role.values:
            raise CommandError(f"unknown role '{options['role']}'; choose one of: {', '.join(Role.values)}")
        codes = options["org_unit"]
        units = OrgUnit.objects.in_bulk(codes, field_name="code")
        unknown = [c for c in codes if c not in units]
        if unknown:
            raise CommandError(f"unknown org unit code(s): {', '.join(unknown)}")
        password = options["password"]
        if password is None:
            if not sys.stdin.isatty():
                raise CommandError("no --password given and no terminal to ask for one")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("the passwords do not match")
        try:
            user = user_create(
                actor=None,
                username=options["username"],
                password=password,
                role=options["role"],
                org_units=[units[c] for c in codes],
                first_name=options["first_name"],
                last_name=options["last_name"],
            )
        except ValidationFailed as exc:
            raise CommandError(error_text(exc)) from exc
        result = {"id": user.pk, "username": user.username, "role": user.role, "org_units": codes}
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
        else:
            self.stdout.write(f"created user {user.username} ({user.role}) in {', '.join(codes)}")
