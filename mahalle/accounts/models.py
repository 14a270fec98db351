import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models

from .capabilities import PERSONAL_DATA_ROLES
from .roles import Role  # noqa: F401  (Role is imported from here by every app)


class User(AbstractUser):
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.FIELD_VOLUNTEER)
    org_units = models.ManyToManyField("geo.OrgUnit", related_name="users", blank=True)
    preferred_language = models.CharField(max_length=5, default="fa")

    def has_role(self, roles) -> bool:
        return self.is_active and self.role in roles

    @property
    def can_read_personal_data(self) -> bool:
        return self.has_role(PERSONAL_DATA_ROLES)


class ApiToken(models.Model):
    """A machine client's token. Only its SHA-256 is stored; the secret is shown once, at creation.

    SHA-256 rather than a password hash: tokens are 256-bit random secrets, so a slow hash adds nothing
    and would cost every API call a hash computation.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    PREFIX = "mhl_"

    @staticmethod
    def hash(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def new_secret(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
