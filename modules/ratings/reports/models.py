"""The yearly star merchants (年度星级商户): awarded by the district's rules, one row per merchant and
year, with the figures and the rules they were judged by, so a certificate still says why after the
rules change."""
from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models


def new_certificate_token() -> str:
    return secrets.token_urlsafe(12)


class StarAward(models.Model):
    merchant = models.ForeignKey("registry.Merchant", on_delete=models.PROTECT, related_name="star_awards")
    year = models.PositiveSmallIntegerField()
    stars = models.PositiveSmallIntegerField(default=1, help_text="how many stars the rules gave")
    ratings = models.PositiveIntegerField(help_text="counted ratings in the year")
    average = models.DecimalField(max_digits=4, decimal_places=2)
    bad_share = models.DecimalField(max_digits=5, decimal_places=4)
    rules = models.JSONField(help_text="the district's star rules in force when awarded")
    token = models.CharField(max_length=32, unique=True, default=new_certificate_token, editable=False,
                             help_text="the certificate page's address, so anyone can check it")
    awarded_at = models.DateTimeField()
    awarded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-year", "-average", "merchant_id"]
        constraints = [models.UniqueConstraint(fields=["merchant", "year"], name="ratings_one_star_award_a_year")]

    def __str__(self) -> str:
        return f"{self.year} ★{self.stars} merchant {self.merchant_id}"
