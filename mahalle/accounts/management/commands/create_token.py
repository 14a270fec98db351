from django.core.management.base import CommandError

from mahalle.accounts.models import User
from mahalle.accounts.services import api_token_create
from mahalle.core.management.base import OperatorCommand


class Command(OperatorCommand):
    help = "Create an API token for a user. The secret is printed once and cannot be shown again."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="what the token is for, e.g. the partner system")
        super().add_arguments(parser)

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
        self.write_result(
            {"id": token.pk, "user": user.username, "name": token.name, "token": secret},
            as_json=options["json"],
            plain=f"token '{token.name}' for {user.username} (shown once, store it now):\n{secret}",
            ensure_ascii=True,
        )
