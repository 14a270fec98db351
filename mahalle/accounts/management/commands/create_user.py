import getpass
import sys

from django.core.management.base import CommandError

from mahalle.accounts.models import Role
from mahalle.accounts.services import user_create
from mahalle.core.errors import ValidationFailed, field_errors_text
from mahalle.core.management.base import OperatorCommand
from mahalle.geo.models import OrgUnit


def error_text(exc: ValidationFailed) -> str:
    details = field_errors_text(getattr(exc, "errors", []) or [])
    return f"{exc}" + (f" ({details})" if details else "")


class Command(OperatorCommand):
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
        super().add_arguments(parser)

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
        self.write_result(
            {"id": user.pk, "username": user.username, "role": user.role, "org_units": codes},
            as_json=options["json"],
            plain=f"created user {user.username} ({user.role}) in {', '.join(codes)}",
        )
