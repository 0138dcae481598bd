"""The ledger is append-only at the database level: UPDATE, DELETE and TRUNCATE on points_entry are
refused by triggers (a correction is a reversing entry). Created in each district's schema (the
function lives beside the table, found through the schema's search path)."""
from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION points_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'points ledger is append-only: % refused on points_entry (post a reversing entry)', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER points_entry_no_update_delete
    BEFORE UPDATE OR DELETE ON points_entry
    FOR EACH ROW EXECUTE FUNCTION points_entry_append_only();
CREATE TRIGGER points_entry_no_truncate
    BEFORE TRUNCATE ON points_entry
    FOR EACH STATEMENT EXECUTE FUNCTION points_entry_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS points_entry_no_truncate ON points_entry;
DROP TRIGGER IF EXISTS points_entry_no_update_delete ON points_entry;
DROP FUNCTION IF EXISTS points_entry_append_only();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("points", "0001_initial"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
