"""Wake the relay the moment an outbox row commits: a statement trigger that NOTIFYs with the schema name.

PostgreSQL delivers NOTIFY at commit (and drops it on rollback), which is exactly when the row becomes
visible to the relay. The relay still sweeps every few seconds, so a missed notification (relay
restarting) only costs that sweep's delay. The function is created in each tenant's schema.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION outbox_notify_relay() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('outbox_event', TG_TABLE_SCHEMA);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER outbox_notify_relay
    AFTER INSERT ON tracker_outboxevent
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify_relay();
"""

DROP = """
DROP TRIGGER IF EXISTS outbox_notify_relay ON tracker_outboxevent;
DROP FUNCTION IF EXISTS outbox_notify_relay();
"""


class Migration(migrations.Migration):
    dependencies = [("tracker", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, reverse_sql=DROP)]
