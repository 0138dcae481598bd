# Expand-only (safe while tenants are half-migrated): new nullable columns; old code never writes them,
# and rows without a fingerprint are accepted as repeats (kernel.idempotency.check_same).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('points', '0005_batch_heartbeat'),
    ]

    operations = [
        migrations.AddField(
            model_name='batch',
            name='idempotency_fingerprint',
            field=models.CharField(blank=True, help_text='kernel.idempotency.fingerprint of the request', max_length=64, null=True),
        ),
        migrations.AddField(
            model_name='batch',
            name='idempotency_key',
            field=models.CharField(blank=True, help_text="kernel.idempotency.stored_key of the client's key", max_length=64, null=True, unique=True),
        ),
        migrations.AddField(
            model_name='benefituse',
            name='idempotency_fingerprint',
            field=models.CharField(blank=True, help_text='kernel.idempotency.fingerprint of the request', max_length=64, null=True),
        ),
        migrations.AddField(
            model_name='entry',
            name='idempotency_fingerprint',
            field=models.CharField(blank=True, help_text='kernel.idempotency.fingerprint of the request', max_length=64, null=True),
        ),
        migrations.AddField(
            model_name='proposal',
            name='idempotency_fingerprint',
            field=models.CharField(blank=True, help_text='kernel.idempotency.fingerprint of the request', max_length=64, null=True),
        ),
    ]
