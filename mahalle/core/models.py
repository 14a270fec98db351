"""Base model for records that belong to the jurisdiction tree."""

import uuid

from django.conf import settings
from django.db import models


def _written_by():
    # Not indexed: nothing looks records up by who wrote them (the audit log answers that), and users are
    # deactivated, never deleted, so SET_NULL never has to search.
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)
    created_by = _written_by()
    modified_by = _written_by()

    class Meta:
        abstract = True


class JurisdictionQuerySet(models.QuerySet):
    def within(self, org_unit) -> "JurisdictionQuerySet":
        """Records inside the subtree of `org_unit` (an OrgUnit or its path)."""
        path = org_unit if isinstance(org_unit, str) else org_unit.path
        return self.filter(org_path__prefix=path)

    def within_any(self, paths) -> "JurisdictionQuerySet":
        paths = list(paths)
        if not paths:
            return self.none()
        query = models.Q()
        for path in paths:
            query |= models.Q(org_path__prefix=path)
        return self.filter(query)


class JurisdictionalRecord(TimeStamped):
    """A personal record: UUID key (client-generated where data arrives), the org unit it hangs off,
    and that unit's materialized path copied in, so every scoped read is one indexed range on one table."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org_unit = models.ForeignKey("geo.OrgUnit", on_delete=models.PROTECT, related_name="+")
    org_path = models.CharField(max_length=64, db_index=True, editable=False)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        abstract = True
