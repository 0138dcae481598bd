# Expand-only (safe while tenants are half-migrated): new nullable columns; old code never writes them,
# and rows without a fingerprint are accepted as repeats (kernel.idempotency.check_same).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0003_case_media_url'),
    ]

    operations = [
        migrations.AddField(
            model_name='case',
            name='idempotency_fingerprint',
            field=models.CharField(blank=True, help_text='kernel.idempotency.fingerprint of the submitted values', max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name='case',
            name='idempotency_key',
            field=models.CharField(blank=True, help_text="kernel.idempotency.stored_key of the client's key (older rows: the key)", max_length=64, null=True, unique=True),
        ),
    ]
