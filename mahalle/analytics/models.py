"""Rolled-up indicators read by the analytics pages (never computed on a page load)."""

from django.db import models


class RtEstimate(models.Model):
    """The reproduction number of one org unit (province or county) on one sliding window, as computed by
    `analytics.services.rt_refresh` (Cori et al. 2013 as EpiEstim). Aggregate, not personal: no person is
    identifiable from it. One row per (org unit, window end); a refresh replaces all rows of a unit."""

    org_unit = models.ForeignKey("geo.OrgUnit", on_delete=models.CASCADE, related_name="+")
    org_path = models.CharField(max_length=255, db_index=True, editable=False)
    date_start = models.DateField()
    date_end = models.DateField()
    mean = models.FloatField()
    std = models.FloatField()
    lower = models.FloatField(help_text="2.5% quantile of the posterior")
    upper = models.FloatField(help_text="97.5% quantile of the posterior")
    cases = models.PositiveIntegerField(help_text="cases (local + imported) in the window")
    reliable = models.BooleanField(help_text="enough cases in the window for a posterior CV of 0.3")
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["org_path", "date_end"]
        constraints = [
            models.UniqueConstraint(fields=["org_unit", "date_end"], name="one_rt_per_unit_and_window_end")
        ]

    def __str__(self) -> str:
        return f"Rt {self.org_unit_id} {self.date_end}: {self.mean:.2f}"
