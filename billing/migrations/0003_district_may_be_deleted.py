"""A district may be deleted (tenants.lifecycle) while its billing stays: the foreign keys become
nullable (SET_NULL), the slug and name are copied onto each row (filled here for the rows already made),
and an account can be closed."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_district_names(apps, schema_editor):
    District = apps.get_model("tenants", "District")
    for model in ("BillingAccount", "UsageRecord"):
        rows = apps.get_model("billing", model).objects.filter(district__isnull=False, district_slug="")
        rows.update(district_slug=Subquery(District.objects.filter(pk=OuterRef("district_id")).values("slug")[:1]),
                    district_name_zh=Subquery(District.objects.filter(pk=OuterRef("district_id"))
                                              .values("name_zh")[:1]))


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0002_default_plans'),
        ('tenants', '0005_lifecycle'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='billingaccount',
            options={'ordering': ['district_slug', 'id']},
        ),
        migrations.AlterModelOptions(
            name='usagerecord',
            options={'ordering': ['-month', 'district_slug', 'id']},
        ),
        migrations.RemoveConstraint(
            model_name='billingaccount',
            name='billing_account_state_valid',
        ),
        migrations.AddField(
            model_name='billingaccount',
            name='closed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='billingaccount',
            name='closed_reason',
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name='billingaccount',
            name='district_name_zh',
            field=models.CharField(blank=True, max_length=120),
        ),
        migrations.AddField(
            model_name='billingaccount',
            name='district_slug',
            field=models.CharField(blank=True, db_index=True, max_length=40),
        ),
        migrations.AddField(
            model_name='usagerecord',
            name='district_name_zh',
            field=models.CharField(blank=True, max_length=120),
        ),
        migrations.AddField(
            model_name='usagerecord',
            name='district_slug',
            field=models.CharField(blank=True, db_index=True, max_length=40),
        ),
        migrations.AlterField(
            model_name='billingaccount',
            name='district',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='billing_account', to='tenants.district'),
        ),
        migrations.AlterField(
            model_name='billingaccount',
            name='state',
            field=models.CharField(choices=[('pending', 'not yet opened'), ('active', 'active'), ('past_due', 'past due'), ('suspended', 'suspended'), ('closed', 'closed (district deleted)')], default='pending', max_length=16),
        ),
        migrations.AlterField(
            model_name='usagerecord',
            name='district',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='usage_records', to='tenants.district'),
        ),
        migrations.RunPython(copy_district_names, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='billingaccount',
            constraint=models.CheckConstraint(condition=models.Q(('state__in', ['pending', 'active', 'past_due', 'suspended', 'closed'])), name='billing_account_state_valid'),
        ),
    ]
