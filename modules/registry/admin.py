from django.contrib import admin

from kernel.text import checked_admin_form
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
from modules.registry.services import TEXT_FIELDS

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
    # names and titles get the services' check of human text (kernel.text) here too
    admin.site.register(model, type(f"{model.__name__}Admin", (admin.ModelAdmin,), {
        "list_display": fields, "form": checked_admin_form(*TEXT_FIELDS[model])}))


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("resident",)


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    form = checked_admin_form(*TEXT_FIELDS[Household])
    list_display = ("__str__", "grid", "registered_size")
    list_filter = ("grid",)
    inlines = [MembershipInline]


@admin.register(Resident)
class ResidentAdmin(admin.ModelAdmin):
    """Personal numbers are shown masked and cannot be typed in here: use the services (validated)."""

    form = checked_admin_form(names=("name",))
    list_display = ("name", "id_number_masked", "phone_masked", "gender", "birth_date")
    search_fields = ("name",)
    readonly_fields = ("id_number_masked", "phone_masked", "gender", "birth_date", "user")
    fields = ("name", "id_number_masked", "phone_masked", "gender", "birth_date", "user")
