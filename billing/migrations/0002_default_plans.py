"""The starting plans (finance edits them as data afterwards). Their Stripe plans are made when first used."""
from django.db import migrations

PLANS = [
    dict(key="starter", name_zh="基础版", name_en="Starter", modules=["registry", "codes", "cases"],
         max_population=100_000, amount_fen=300_000, collection_method="send_invoice", days_until_due=30,
         grace_days=15, records_usage=False, usage_metered=False),
    dict(key="standard", name_zh="标准版", name_en="Standard",
         modules=["registry", "codes", "cases", "points", "ratings", "participation", "notices"],
         max_population=500_000, amount_fen=800_000, collection_method="send_invoice", days_until_due=30,
         grace_days=15, records_usage=True, usage_metered=False),
    dict(key="city-metered", name_zh="城市按量版", name_en="City (metered)",
         modules=["registry", "codes", "cases", "points", "ratings", "participation", "notices"],
         max_population=None, amount_fen=1_500_000, collection_method="charge_automatically", days_until_due=30,
         grace_days=7, records_usage=True, usage_metered=True),
]


def add(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for row in PLANS:
        Plan.objects.get_or_create(key=row["key"], defaults=row)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(add, migrations.RunPython.noop)]
