"""The activity log is append-only in the database itself: no code path (ORM, raw SQL, admin) can rewrite it."""

from django.db import migrations

FORBID_CHANGES = """
CREATE OR REPLACE FUNCTION tracker_activity_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'tracker_taskactivity is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tracker_activity_no_update_delete
    BEFORE UPDATE OR DELETE ON tracker_taskactivity
    FOR EACH ROW EXECUTE FUNCTION tracker_activity_is_append_only();

CREATE TRIGGER tracker_activity_no_truncate
    BEFORE TRUNCATE ON tracker_taskactivity
    FOR EACH STATEMENT EXECUTE FUNCTION tracker_activity_is_append_only();
"""

ALLOW_CHANGES = """
DROP TRIGGER IF EXISTS tracker_activity_no_truncate ON tracker_taskactivity;
DROP TRIGGER IF EXISTS tracker_activity_no_update_delete ON tracker_taskactivity;
DROP FUNCTION IF EXISTS tracker_activity_is_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("tracker", "0001_initial")]

    operations = [migrations.RunSQL(FORBID_CHANGES, reverse_sql=ALLOW_CHANGES)]
