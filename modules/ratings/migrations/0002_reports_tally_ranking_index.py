"""ratings.reports: a covering index for the rankings and trends, which read one dimension of one kind
of subject over a range of months and sum n, total and bad by subject or unit. With it PostgreSQL
answers from the index alone (an index-only scan of the rows wanted, no heap): the ranking of 2,000
officials on one dimension over a year (720,000 tally rows, 120,000 of them read) took 43 ms instead
of 90–100 ms for the sequential scan the (month, dimension) index left it.

Raw SQL, so Django's model state is unchanged (no ``Tally.Meta`` edit in this branch); to move it into
the model, add ``models.Index(fields=["dimension", "subject_kind", "month"], include=[...],
name="ratings_tally_rank")`` to ``Tally.Meta.indexes`` with a state-only migration."""
from django.db import migrations

INDEX = ("CREATE INDEX IF NOT EXISTS ratings_tally_rank ON ratings_tally (dimension, subject_kind, month) "
         "INCLUDE (official_id, merchant_id, department_id, grid_id, channel, n, total, bad)")


class Migration(migrations.Migration):
    dependencies = [("ratings", "0001_initial")]

    operations = [migrations.RunSQL(INDEX, reverse_sql="DROP INDEX IF EXISTS ratings_tally_rank")]
