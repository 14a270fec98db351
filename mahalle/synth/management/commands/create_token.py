import json

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from mahalle.accounts.models import User
from mahalle.accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a user. The secret is printed once and cannot be shown again."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="what the token is for, e.g. the partner system")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        try:
            return self.run(**options)
        except DatabaseError as exc:
            raise CommandError(f"database error: {exc} (has `mahalle migrate` been run?)") from exc

    def run(self, **options):
        name = options["name"].strip()
        if not name:
            raise CommandError("--name must not be empty")
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"unknown user '{options['username']}'")
        if not user.is_active:
            raise CommandError(f"user '{user.username}' is deactivated")
        token, secret = api_token_create(actor=None, user=user, name=name[:100])
        if options["json"]:
            self.stdout.write(
                json.dumps({"id": token.pk, "user": user.username, "name": token.name, "token": secret})
            )
        else:
            self.stdout.write(
                f"token '{token.name}' for {user.username} (shown once, store it now):\n{secret}"
            )
