"""The public platform site is a District row too (schema "public"), reached at PLATFORM_DOMAIN."""
from django.conf import settings
from django.db import migrations


def create_public(apps, schema_editor):
    District = apps.get_model("tenants", "District")
    Domain = apps.get_model("tenants", "Domain")
    public, _ = District.objects.get_or_create(
        schema_name="public",
        defaults={"slug": "platform", "name_zh": "码上平台", "name_en": "Mashang platform", "status": "active"},
    )
    Domain.objects.get_or_create(domain=settings.PLATFORM_DOMAIN, defaults={"tenant": public, "is_primary": True})


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]
    operations = [migrations.RunPython(create_public, migrations.RunPython.noop)]
