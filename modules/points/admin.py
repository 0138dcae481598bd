"""Django admin of the points module: everything is read-only here. Rules change through
``ledger.rules.create_rule`` / ``revise_rule`` (new version, audit), the ledger only by postings."""
from django.contrib import admin

from kernel.admin import ReadOnlyAdminMixin
from modules.points.models import (
    Appeal,
    Balance,
    Batch,
    Benefit,
    BenefitUse,
    CompoundScore,
    Entry,
    HonourOptIn,
    Proposal,
    Provider,
    ProviderStaff,
    Rule,
    RuleVersion,
    Vote,
)


class VersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RuleVersion
    extra = 0
    fields = ("version", "is_current", "name_zh", "direction", "kind", "min_points", "max_points", "cap_period",
              "cap_count", "cap_points", "effective_from", "effective_to", "origin")


@admin.register(Rule)
class RuleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "created_at")
    search_fields = ("code", "versions__name_zh")
    inlines = [VersionInline]


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "posted_at", "resident", "rule", "points", "kind", "source_kind", "source_id", "reverses")
    list_filter = ("kind", "source_kind")
    raw_id_fields = ("resident", "rule", "rule_version", "reverses", "posted_by", "approved_by")
    show_full_result_count = False


@admin.register(Balance)
class BalanceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("resident", "kind", "points", "entries", "updated_at")
    list_filter = ("kind",)
    raw_id_fields = ("resident",)
    show_full_result_count = False


class VoteInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Vote
    fk_name = "proposal"
    extra = 0
    fields = ("member", "decision", "reason", "at")


@admin.register(Proposal)
class ProposalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "proposed_at", "kind", "rule", "points", "status", "proposed_by", "quorum")
    list_filter = ("status", "kind")
    raw_id_fields = ("resident", "batch", "entry")
    inlines = [VoteInline]


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "filed_at", "entry", "status", "decided_at")
    list_filter = ("status",)
    raw_id_fields = ("entry", "resident", "reversal")


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "created_at", "title", "points", "status", "progress_done", "target_count", "posted_count",
                    "skipped_count")  # texts: the notification service's messages (batches.selectors.sms_counts)
    list_filter = ("status",)


@admin.register(CompoundScore)
class CompoundScoreAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("rank", "compound", "score", "residents", "civic_points", "praises", "offences", "computed_at")


# --- tier benefits (edited on the providers page through ``benefits`` services, with audit) -----------

class ProviderStaffInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ProviderStaff
    extra = 0
    fields = ("user", "added_by", "added_at")


class BenefitInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Benefit
    extra = 0
    fields = ("title", "min_tier", "limit_count", "limit_period", "active", "valid_from", "valid_to")


@admin.register(Provider)
class ProviderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "active", "phone")
    list_filter = ("kind", "active")
    search_fields = ("name",)
    inlines = [ProviderStaffInline, BenefitInline]


@admin.register(Benefit)
class BenefitAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("title", "provider", "min_tier", "limit_count", "limit_period", "active", "valid_to")
    list_filter = ("active", "min_tier", "provider__kind")
    search_fields = ("title", "provider__name")


@admin.register(BenefitUse)
class BenefitUseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "at", "benefit", "resident", "tier", "recorded_by")
    list_filter = ("tier",)
    raw_id_fields = ("benefit", "resident", "recorded_by")
    show_full_result_count = False


@admin.register(HonourOptIn)
class HonourOptInAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("resident", "public", "show_name", "changed_at")
    list_filter = ("public", "show_name")
    raw_id_fields = ("resident",)
