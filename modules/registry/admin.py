from django.contrib import admin

from modules.registry.models import (
    Building,
    Community,
    Compound,
    Department,
    Grid,
    Household,
    Membership,
    Merchant,
    Official,
    Resident,
    Street,
)

for model, fields in (
    (Street, ("code", "name")),
    (Community, ("code", "name", "street")),
    (Grid, ("code", "name", "community", "worker")),
    (Compound, ("code", "name", "community", "grid", "property_company")),
    (Building, ("compound", "number", "grid")),
    (Department, ("code", "name", "is_sector")),
    (Official, ("name", "department", "post", "active")),
    (Merchant, ("name", "kind", "grid", "licensed_place", "active")),
):
    admin.site.register(model, type(f"{model.__name__}Admin", (admin.ModelAdmin,), {"list_display": fields}))


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("resident",)


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ("__str__", "grid", "registered_size")
    list_filter = ("grid",)
    inlines = [MembershipInline]


@admin.register(Resident)
class ResidentAdmin(admin.ModelAdmin):
    """Personal numbers are shown masked and cannot be typed in here: use the services (validated)."""

    list_display = ("name", "id_number_masked", "phone_masked", "gender", "birth_date")
    search_fields = ("name",)
    readonly_fields = ("id_number_masked", "phone_masked", "gender", "birth_date", "user")
    fields = ("name", "id_number_masked", "phone_masked", "gender", "birth_date", "user")
