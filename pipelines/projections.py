"""The SQL that replays a tenant's activity log into TaskSLA and AnalyticsSnapshot rows, set-based.

Everything is computed inside PostgreSQL with window functions, so the Python process holds no rows and
its memory does not grow with the log. The steps, for a span of days [D0, D1] of one tenant:

1. Segments (`load_segments`): one pass over the log up to the end of D1, ordered by task and seq. Each
   state-changing row (created, status_changed, deleted, restored, an `updated` of priority or project)
   opens a segment [t, next row's t) carrying the task's status, priority, project and deleted flag after
   that row (carried forward with running `max()` over seq-prefixed values), plus running SLA clocks.
   Segments that ended before D0 cannot affect D0..D1 and are dropped.
2. TaskSLA (`_sla_chunk`): segments cut at UTC midnights (generate_series), summed per task, day and
   status, with the state at the end of the day. A DONE or deleted segment is cut only at its first and
   last day: the days between hold no row, so finished tasks do not add a row per day forever.
3. AnalyticsSnapshot (`_snapshot_chunk`): the day's transitions (segment starts), end-of-day counts per
   status (+1/-1 deltas at segment boundaries, running sum per project), percentiles of cycle and lead
   time, and per-project sums of that day's TaskSLA rows.

`rebuild_projections` runs the three: the segments once, then TaskSLA and snapshots chunk by chunk
(CHUNK_DAYS, one transaction each). Writes are upserts by key done as hash joins (`_sync`): rows whose
values differ are updated, missing keys inserted, keys the log no longer yields deleted; a rebuild of an
unchanged day writes nothing.

Conventions (docs/pipeline.md): timestamps are truncated to whole seconds; day N is [N·86400, (N+1)·86400)
in Unix seconds (UTC); "end of day" is the instant (N+1)·86400, or `now` for today.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from analytics.models import AnalyticsSnapshot, PartitionBuild, TaskSLA
from analytics.sla import SlaTarget
from pipelines.partitions import TenantDays, split
from pipelines.resources import TenantSession
from tracker.models import ActivityVerb, Project, TaskActivity

DAY = 86_400
CHUNK_DAYS = 92  # a quarter per transaction: fewer passes over the segments, memory still bounded
EPOCH = dt.date(1970, 1, 1)

LOG = TaskActivity._meta.db_table
PROJECTS = Project._meta.db_table
SLA = TaskSLA._meta.db_table
SNAPSHOT = AnalyticsSnapshot._meta.db_table
BUILDS = PartitionBuild._meta.db_table
SEGMENTS = "pipeline_segments"  # a TEMP table: private to the connection, gone when it closes


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def horizon_seconds(now: dt.datetime) -> int:
    return int(now.timestamp())


def end_seconds(last_day: dt.date, now: dt.datetime) -> int:
    """Exclusive end of what a build of days up to `last_day` reads: its midnight, or now for today."""
    return min((day_number(last_day) + 1) * DAY, horizon_seconds(now))


@dataclass(frozen=True)
class WriteStats:
    written: int = 0  # inserted or changed
    deleted: int = 0
    unchanged: int = 0

    def __add__(self, other: WriteStats) -> WriteStats:
        return WriteStats(
            self.written + other.written, self.deleted + other.deleted, self.unchanged + other.unchanged
        )


@dataclass(frozen=True)
class DayActivity:
    """A digest of one day's slice of the log."""

    day: dt.date
    rows: int
    tasks: int
    by_verb: dict[str, int]
    first_seq: int
    last_seq: int
    # Changes iff the day's slice changes: the log is append-only, so a slice only ever gains rows (its
    # count and last seq move), and the hash of its last row chains every row before it.
    fingerprint: str


# --- 1. segments ---------------------------------------------------------------------------------------
# Statuses, priorities and the deleted flag are small integer codes while they are carried forward (integer
# max() is far cheaper than text); the segments table stores them decoded.
_STATUS_CODES = "WHEN 'OPEN' THEN 1 WHEN 'IN_PROGRESS' THEN 2 WHEN 'BLOCKED' THEN 3 WHEN 'DONE' THEN 4"
_STATUSES = "ARRAY['OPEN', 'IN_PROGRESS', 'BLOCKED', 'DONE']"
_PRIORITY_CODES = "WHEN 'LOW' THEN 1 WHEN 'MEDIUM' THEN 2 WHEN 'HIGH' THEN 3 WHEN 'URGENT' THEN 4"
_PRIORITIES = "ARRAY['LOW', 'MEDIUM', 'HIGH', 'URGENT']"

_STATE_ROWS = f"""
    SELECT a.task_id, a.seq,
           floor(date_part('epoch', a.occurred_at))::bigint AS t,
           CASE a.changes -> 'status' ->> 1 {_STATUS_CODES} END AS set_status,
           CASE a.changes -> 'priority' ->> 1 {_PRIORITY_CODES} END AS set_priority,
           (a.changes -> 'project' ->> 1)::uuid AS set_project,
           CASE a.verb WHEN 'restored' THEN 1 WHEN 'deleted' THEN 2 END AS set_deleted,
           a.verb = 'created' AS is_created
    FROM {LOG} a
    WHERE a.occurred_at < to_timestamp(%(end_t)s)
      AND (a.verb IN ('created', 'status_changed', 'deleted', 'restored')
           OR (a.verb = 'updated' AND (a.changes ? 'priority' OR a.changes ? 'project')))
"""

# Carry-forward ("the last value set so far"): a running max of `seq * 8 + code` is the latest row's code
# (seq orders a task's rows); `mod(…, 8)` recovers it. The project (a UUID) is carried as the seq of the row
# that last set it and looked up afterwards.
_CARRIED = """
    SELECT task_id, seq, t, set_status, is_created,
           mod(max(seq * 8 + set_status) OVER upto, 8) AS status,
           mod(max(seq * 8 + set_status) OVER before, 8) AS prev_status,
           mod(max(seq * 8 + set_priority) OVER upto, 8) AS priority,
           mod(max(seq * 8 + set_deleted) OVER upto, 8) AS deleted,
           max(seq) FILTER (WHERE set_project IS NOT NULL) OVER upto AS project_seq,
           lead(t) OVER (PARTITION BY task_id ORDER BY seq) AS next_t,
           min(t) FILTER (WHERE is_created) OVER task AS created_t,
           min(t) FILTER (WHERE set_status = 2) OVER task AS first_progress_t,
           min(t) FILTER (WHERE set_status IN (2, 4)) OVER task AS first_start_t
    FROM state_rows
    WINDOW upto AS (PARTITION BY task_id ORDER BY seq ROWS UNBOUNDED PRECEDING),
           before AS (PARTITION BY task_id ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
           task AS (PARTITION BY task_id)
"""

# SLA clocks run in OPEN and IN_PROGRESS only (BLOCKED and DONE stop them). `open_before`/`active_before`:
# clock seconds of the task's earlier segments; `open_before_start`: time-to-start clock at its first start.
_SEGMENTS = f"""
CREATE TEMP TABLE {SEGMENTS} AS
WITH state_rows AS MATERIALIZED ({_STATE_ROWS}),
carried AS ({_CARRIED}),
timed AS (
    SELECT c.*, p.set_project AS project, coalesce(c.next_t, %(end_t)s) - c.t AS length
    FROM carried c JOIN state_rows p ON p.seq = c.project_seq
    WHERE c.status > 0
)
SELECT task_id, seq, t, coalesce(next_t, %(end_t)s) AS e, next_t IS NOT NULL AS closed,
       ({_STATUSES})[status] AS status, ({_STATUSES})[nullif(prev_status, 0)] AS prev_status,
       ({_STATUSES})[set_status] AS set_status, is_created,
       coalesce(({_PRIORITIES})[nullif(priority, 0)], 'MEDIUM') AS priority, project,
       coalesce(deleted = 2, false) AS deleted,
       created_t, first_progress_t, first_start_t,
       coalesce(sum(length) FILTER (WHERE status = 1) OVER before, 0) AS open_before,
       coalesce(sum(length) FILTER (WHERE status IN (1, 2)) OVER before, 0) AS active_before,
       coalesce(sum(length) FILTER (WHERE status = 1 AND t < first_start_t) OVER (PARTITION BY task_id), 0)
           AS open_before_start
FROM timed
WINDOW before AS (PARTITION BY task_id ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
"""


def load_segments(session: TenantSession, span: TenantDays, now: dt.datetime) -> int:
    """(Re)create the connection's segments table for `span`; returns its row count."""
    end_t = end_seconds(span.last_day, now)
    session.execute(f"DROP TABLE IF EXISTS {SEGMENTS}")
    session.execute(_SEGMENTS, {"end_t": end_t})
    # Segments that ended before the span's first midnight affect none of its days.
    session.execute(f"DELETE FROM {SEGMENTS} WHERE e < %(d0)s", {"d0": day_number(span.first_day) * DAY})
    # Temp tables get no statistics unless asked: without them the planner guesses a few hundred rows,
    # and picks nested loops and sorts sized for that, for what is a year of a tenant's segments.
    session.execute(f"ANALYZE {SEGMENTS}")
    return int(session.fetchone(f"SELECT count(*) FROM {SEGMENTS}")[0])


def drop_segments(session: TenantSession) -> None:
    session.execute(f"DROP TABLE IF EXISTS {SEGMENTS}")


# --- 2. TaskSLA ----------------------------------------------------------------------------------------
# The state of each SLA target at the end of a task-day, from its clocks (`d`) and its priority's targets
# (`tg`). One definition for the two branches of _SLA_ROWS below.
_TARGET_STATES = """
       CASE WHEN d.started THEN CASE WHEN d.start_clock <= tg.start_target THEN 'met' ELSE 'breached' END
            WHEN d.start_clock > tg.start_target THEN 'breached' ELSE 'open' END AS start_target_state,
       CASE WHEN d.end_status = 'DONE'
                THEN CASE WHEN d.done_clock <= tg.done_target THEN 'met' ELSE 'breached' END
            WHEN d.done_clock > tg.done_target THEN 'breached' ELSE 'open' END AS done_target_state
"""

# The chunk's new rows. %(c0)s/%(c1)s: first/last day number; %(h)s: now (Unix seconds).
#
# A live segment (not DONE, not deleted) covers its days in two kinds: "whole days", on which the task sat
# in that one status from midnight to the end of the day, and at most two partial days, its first and its
# last. Whole days are most of a year's rows (open work sitting still): each is the task's only piece that
# day, so its row is computed directly, with no grouping. Partial days, and the first and last day of a DONE
# or deleted segment, are pieces grouped per task and day, as several segments may share a day.
_SLA_ROWS = f"""
WITH touching AS MATERIALIZED (
    SELECT *,
           status <> 'DONE' AND NOT deleted AS live,
           (t + 86399) / 86400 AS whole_from,  -- the first midnight at or after t
           CASE WHEN e >= %(h)s THEN %(h)s / 86400 ELSE e / 86400 - 1 END AS whole_to
    FROM {SEGMENTS}
    WHERE e > t AND t < (%(c1)s + 1) * 86400 AND e > %(c0)s * 86400
),
whole_days AS (
    SELECT s.task_id, d.dn, s.status, s.priority, s.project,
           least(s.e, (d.dn + 1) * 86400) - d.dn * 86400 AS seconds,
           CASE WHEN s.first_start_t < day_end THEN s.open_before_start
                ELSE s.open_before + CASE WHEN s.status = 'OPEN' THEN day_end - s.t ELSE 0 END
           END AS start_clock,
           s.active_before + CASE WHEN s.status IN ('OPEN', 'IN_PROGRESS') THEN day_end - s.t ELSE 0 END
               AS done_clock,
           s.first_start_t < day_end AS started
    FROM touching s
    CROSS JOIN generate_series(greatest(s.whole_from, %(c0)s), least(s.whole_to, %(c1)s)) AS d (dn)
    CROSS JOIN LATERAL (SELECT least((d.dn + 1) * 86400, %(h)s) AS day_end) AS x
    WHERE s.live
),
cut AS (
    -- The partial days of a live segment: its first and last day, unless whole (VALUES: both, once).
    SELECT s.*, d.dn FROM touching s
    CROSS JOIN LATERAL (VALUES (s.t / 86400, 1), ((s.e - 1) / 86400, 2)) AS d (dn, k)
    WHERE s.live AND (d.k = 1 OR (s.e - 1) / 86400 <> s.t / 86400)
      AND d.dn NOT BETWEEN s.whole_from AND s.whole_to AND d.dn BETWEEN %(c0)s AND %(c1)s
    UNION ALL
    -- A DONE or deleted segment: its first and last day only.
    SELECT s.*, s.t / 86400 FROM touching s
    WHERE NOT s.live AND s.t >= %(c0)s * 86400
    UNION ALL
    SELECT s.*, (s.e - 1) / 86400 FROM touching s
    WHERE NOT s.live AND s.closed
      AND (s.e - 1) / 86400 <> s.t / 86400 AND s.e <= (%(c1)s + 1) * 86400
),
pieces AS (
    SELECT task_id, dn, status, t, deleted, priority, project, set_status,
           least(e, (dn + 1) * 86400) - greatest(t, dn * 86400) AS seconds,
           e >= least((dn + 1) * 86400, %(h)s) AS is_end,
           least((dn + 1) * 86400, %(h)s) AS day_end,
           first_start_t, open_before, open_before_start, active_before
    FROM cut
),
changed_days AS (
    -- Everything about one task on one day in one pass; the end-of-day segment (is_end) gives the state.
    SELECT task_id, dn,
           sum(seconds) FILTER (WHERE status = 'OPEN') AS s_open,
           sum(seconds) FILTER (WHERE status = 'IN_PROGRESS') AS s_in_progress,
           sum(seconds) FILTER (WHERE status = 'BLOCKED') AS s_blocked,
           sum(seconds) FILTER (WHERE status = 'DONE') AS s_done,
           bool_and(status = 'DONE') AS all_done, min(t) AS first_t,
           bool_or(is_end AND deleted) AS end_deleted,
           max(status) FILTER (WHERE is_end) AS end_status,
           max(priority) FILTER (WHERE is_end) AS priority,
           max(project::text) FILTER (WHERE is_end) AS project,
           max(CASE WHEN first_start_t < day_end THEN open_before_start
                    ELSE open_before + CASE WHEN status = 'OPEN' THEN day_end - t ELSE 0 END
               END) FILTER (WHERE is_end) AS start_clock,
           max(active_before + CASE WHEN status IN ('OPEN', 'IN_PROGRESS') THEN day_end - t ELSE 0 END)
               FILTER (WHERE is_end) AS done_clock,
           bool_or(first_start_t < day_end) FILTER (WHERE is_end) AS started
    FROM pieces
    GROUP BY task_id, dn
),
status_changed AS (
    SELECT DISTINCT task_id, t / 86400 AS dn FROM {SEGMENTS}
    WHERE set_status IS NOT NULL AND t >= %(c0)s * 86400 AND t < (%(c1)s + 1) * 86400
),
targets AS (
    SELECT * FROM unnest(%(priorities)s::text[], %(start_targets)s::bigint[], %(done_targets)s::bigint[])
        AS x (priority, start_target, done_target)
)
SELECT d.task_id, DATE '1970-01-01' + d.dn::int AS day, d.end_status AS status, d.seconds::int AS seconds,
       true AS in_status_at_end, d.project AS project_id, d.priority,
       d.start_clock AS start_clock_seconds, d.done_clock AS done_clock_seconds,{_TARGET_STATES}
FROM (SELECT *, status AS end_status FROM whole_days) d
JOIN targets tg ON tg.priority = d.priority
WHERE d.seconds > 0
UNION ALL
SELECT d.task_id, DATE '1970-01-01' + d.dn::int AS day, v.status, v.seconds::int AS seconds,
       v.status = d.end_status AS in_status_at_end, d.project::uuid AS project_id, d.priority,
       d.start_clock AS start_clock_seconds, d.done_clock AS done_clock_seconds,{_TARGET_STATES}
FROM changed_days d
JOIN targets tg ON tg.priority = d.priority
LEFT JOIN status_changed c ON c.task_id = d.task_id AND c.dn = d.dn
CROSS JOIN LATERAL (VALUES ('OPEN', d.s_open), ('IN_PROGRESS', d.s_in_progress), ('BLOCKED', d.s_blocked),
                           ('DONE', d.s_done)) AS v (status, seconds)
-- Kept: not deleted at the end of the day, and not DONE all day long without a status change.
WHERE v.seconds > 0 AND NOT d.end_deleted
  AND NOT (d.all_done AND d.first_t < d.dn * 86400 AND c.task_id IS NULL)
"""

_SLA_KEYS = ("task_id", "day", "status")
_SLA_VALUES = (
    "seconds",
    "in_status_at_end",
    "project_id",
    "priority",
    "start_clock_seconds",
    "done_clock_seconds",
    "start_target_state",
    "done_target_state",
)


def rebuild_lock_name(*, schema_name: str, table: str) -> str:
    """The advisory lock (`hashtext` of this name) a rebuild holds on one tenant's projection table."""
    return f"{schema_name}.{table}"


def _sync(
    session: TenantSession,
    *,
    table: str,
    rows: str,
    keys: tuple[str, ...],
    values: tuple[str, ...],
    params: dict[str, object],
) -> WriteStats:
    """Make `table`'s rows of the chunk's days equal to those the query `rows` yields, keyed by `keys`:
    update the rows whose values differ, insert the missing keys, delete the keys the log no longer yields.

    An upsert by key done as one hash join of old and new rows into a (usually empty) diff, rather than an
    index probe per row (INSERT … ON CONFLICT): a year of TaskSLA is millions of rows. A row whose values
    are unchanged is not touched at all, so `built_at` keeps saying when its values last changed. The new
    rows are streamed from the query into the table or the diff, never stored in between.
    """
    # Two runs may rebuild the same tenant's days at once (a backfill and the sensor's run): they take
    # turns, so each compares with what the other committed, and the inserts below never meet a
    # duplicate key. That is what lets them be plain INSERTs: ON CONFLICT made a first build ~1.5x slower.
    session.execute(
        "SELECT pg_advisory_xact_lock(hashtext(%(lock)s))",
        {"lock": rebuild_lock_name(schema_name=session.schema_name, table=table)},
    )
    on = " AND ".join(f"o.{key} = n.{key}" for key in keys)
    columns = ", ".join(keys + values)
    old, new = ", ".join(f"o.{v}" for v in values), ", ".join(f"n.{v}" for v in values)
    differs = f"({old}) IS DISTINCT FROM ({new})"
    in_chunk = "day BETWEEN %(first_day)s AND %(last_day)s"
    existing = int(session.fetchone(f"SELECT count(*) FROM {table} WHERE {in_chunk}", params)[0])
    if not existing:  # days never built: nothing to compare with
        inserted = session.execute(
            f"INSERT INTO {table} ({columns}, built_at) SELECT {columns}, %(built_at)s FROM ({rows}) n",
            params,
        )
        return WriteStats(written=inserted)
    session.execute("DROP TABLE IF EXISTS pipeline_diff")
    session.execute(
        f"""CREATE TEMP TABLE pipeline_diff AS
            SELECT n.*, o.id AS old_id
            FROM ({rows}) n
            FULL JOIN (SELECT id, {columns} FROM {table} WHERE {in_chunk}) o
                ON {on}
            WHERE o.id IS NULL OR n.{keys[0]} IS NULL OR {differs}""",
        params,
    )
    updated = session.execute(
        f"""UPDATE {table} t SET {", ".join(f"{v} = d.{v}" for v in values)}, built_at = %(built_at)s
            FROM pipeline_diff d WHERE t.id = d.old_id AND d.{keys[0]} IS NOT NULL""",
        params,
    )
    inserted = session.execute(
        f"""INSERT INTO {table} ({columns}, built_at)
            SELECT {columns}, %(built_at)s FROM pipeline_diff WHERE old_id IS NULL""",
        params,
    )
    deleted = session.execute(
        f"DELETE FROM {table} WHERE id IN (SELECT old_id FROM pipeline_diff WHERE {keys[0]} IS NULL)"
    )
    session.execute("DROP TABLE pipeline_diff")
    return WriteStats(written=updated + inserted, deleted=deleted, unchanged=existing - updated - deleted)


def _sla_chunk(
    session: TenantSession,
    chunk: TenantDays,
    now: dt.datetime,
    targets: dict[str, SlaTarget],
    built_at: dt.datetime,
) -> WriteStats:
    priorities = sorted(targets)
    params = {
        "c0": day_number(chunk.first_day),
        "c1": day_number(chunk.last_day),
        "h": horizon_seconds(now),
        "priorities": priorities,
        "start_targets": [targets[p].time_to_start_seconds for p in priorities],
        "done_targets": [targets[p].time_to_done_seconds for p in priorities],
        "built_at": built_at,
        "first_day": chunk.first_day,
        "last_day": chunk.last_day,
    }
    return _sync(session, table=SLA, rows=_SLA_ROWS, keys=_SLA_KEYS, values=_SLA_VALUES, params=params)


# --- 3. AnalyticsSnapshot ------------------------------------------------------------------------------
_SNAPSHOT_ROWS = f"""
WITH days AS (
    SELECT dn, least((dn + 1) * 86400, %(h)s) AS day_end FROM generate_series(%(c0)s::bigint, %(c1)s) AS dn
),
task_end AS (
    -- Project and liveness of each task-day come from TaskSLA (its end-of-day row).
    SELECT task_id, day, (day - DATE '1970-01-01')::bigint AS dn, project_id, status, start_target_state,
           done_target_state
    FROM {SLA} WHERE day BETWEEN %(first_day)s AND %(last_day)s AND in_status_at_end
),
transitions AS (
    SELECT task_id, t / 86400 AS dn,
           bool_or(is_created) AS created,
           bool_or(set_status = 'IN_PROGRESS' AND t = first_progress_t) AS started,
           max(t) FILTER (WHERE set_status = 'DONE') AS done_t,
           bool_or(set_status IS NOT NULL AND prev_status = 'DONE' AND set_status <> 'DONE') AS reopened,
           bool_or(set_status = 'BLOCKED' AND prev_status IS DISTINCT FROM 'BLOCKED') AS blocked,
           max(created_t) AS created_t, max(first_progress_t) AS first_progress_t
    FROM {SEGMENTS}
    WHERE t >= %(c0)s * 86400 AND t < (%(c1)s + 1) * 86400
    GROUP BY task_id, t / 86400
),
flow AS (
    SELECT te.project_id, te.dn,
           count(*) FILTER (WHERE tr.created) AS tasks_created,
           count(*) FILTER (WHERE tr.started) AS tasks_started,
           count(*) FILTER (WHERE tr.done_t IS NOT NULL) AS tasks_completed,
           count(*) FILTER (WHERE tr.reopened) AS tasks_reopened,
           count(*) FILTER (WHERE tr.blocked) AS tasks_blocked,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY tr.done_t - tr.first_progress_t)
               FILTER (WHERE tr.first_progress_t <= tr.done_t) AS cycle_time_p50,
           percentile_disc(0.85) WITHIN GROUP (ORDER BY tr.done_t - tr.first_progress_t)
               FILTER (WHERE tr.first_progress_t <= tr.done_t) AS cycle_time_p85,
           percentile_disc(0.95) WITHIN GROUP (ORDER BY tr.done_t - tr.first_progress_t)
               FILTER (WHERE tr.first_progress_t <= tr.done_t) AS cycle_time_p95,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY tr.done_t - tr.created_t) AS lead_time_p50,
           percentile_disc(0.85) WITHIN GROUP (ORDER BY tr.done_t - tr.created_t) AS lead_time_p85,
           percentile_disc(0.95) WITHIN GROUP (ORDER BY tr.done_t - tr.created_t) AS lead_time_p95
    FROM transitions tr JOIN task_end te USING (task_id, dn)
    GROUP BY te.project_id, te.dn
),
created AS (
    SELECT task_id, max(created_t) AS created_t FROM {SEGMENTS} GROUP BY task_id
),
open_age AS (
    SELECT te.project_id, te.dn,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY d.day_end - c.created_t) AS open_age_p50,
           percentile_disc(0.85) WITHIN GROUP (ORDER BY d.day_end - c.created_t) AS open_age_p85,
           max(d.day_end - c.created_t) AS open_age_max
    FROM task_end te JOIN days d USING (dn) JOIN created c USING (task_id)
    WHERE te.status <> 'DONE'
    GROUP BY te.project_id, te.dn
),
sla AS (
    SELECT project_id, (day - DATE '1970-01-01')::bigint AS dn,
           coalesce(sum(seconds) FILTER (WHERE status = 'OPEN'), 0) AS time_open_seconds,
           coalesce(sum(seconds) FILTER (WHERE status = 'IN_PROGRESS'), 0) AS time_in_progress_seconds,
           coalesce(sum(seconds) FILTER (WHERE status = 'BLOCKED'), 0) AS time_blocked_seconds,
           count(*) FILTER (WHERE in_status_at_end AND start_target_state = 'met') AS sla_start_met,
           count(*) FILTER (WHERE in_status_at_end AND start_target_state = 'breached') AS sla_start_breached,
           count(*) FILTER (WHERE in_status_at_end AND done_target_state = 'met') AS sla_done_met,
           count(*) FILTER (WHERE in_status_at_end AND done_target_state = 'breached') AS sla_done_breached
    FROM {SLA} WHERE day BETWEEN %(first_day)s AND %(last_day)s
    GROUP BY project_id, day
),
deltas AS (
    -- A segment holds the end of days [first, last]: +1 on `first`, -1 the day after `last`.
    SELECT project, status, greatest(t / 86400, %(c0)s) AS dn, 1 AS delta
    FROM {SEGMENTS}
    WHERE NOT deleted AND t / 86400 <= %(c1)s AND (NOT closed OR e / 86400 > greatest(t / 86400, %(c0)s))
    UNION ALL
    SELECT project, status, e / 86400, -1
    FROM {SEGMENTS}
    WHERE NOT deleted AND closed AND e / 86400 > greatest(t / 86400, %(c0)s) AND e / 86400 <= %(c1)s
),
grid AS (
    SELECT p.id AS project_id, d.dn, d.day_end,
           floor(extract(epoch FROM p.created_at))::bigint < d.day_end
               AND (p.archived_at IS NULL OR p.archived_at >= to_timestamp(d.dn * 86400)) AS active
    FROM {PROJECTS} p CROSS JOIN days d
),
daily_deltas AS (
    SELECT project AS project_id, dn,
           sum(delta) FILTER (WHERE status = 'OPEN') AS d_open,
           sum(delta) FILTER (WHERE status = 'IN_PROGRESS') AS d_in_progress,
           sum(delta) FILTER (WHERE status = 'BLOCKED') AS d_blocked,
           sum(delta) FILTER (WHERE status = 'DONE') AS d_done
    FROM deltas GROUP BY project, dn
),
wip AS (
    SELECT g.project_id, g.dn, g.active,
           sum(coalesce(dd.d_open, 0)) OVER w AS end_open,
           sum(coalesce(dd.d_in_progress, 0)) OVER w AS end_in_progress,
           sum(coalesce(dd.d_blocked, 0)) OVER w AS end_blocked,
           sum(coalesce(dd.d_done, 0)) OVER w AS end_done
    FROM grid g LEFT JOIN daily_deltas dd USING (project_id, dn)
    WINDOW w AS (PARTITION BY g.project_id ORDER BY g.dn)
)
SELECT w.project_id, DATE '1970-01-01' + w.dn::int AS day,
       coalesce(f.tasks_created, 0)::int AS tasks_created,
       coalesce(f.tasks_started, 0)::int AS tasks_started,
       coalesce(f.tasks_completed, 0)::int AS tasks_completed,
       coalesce(f.tasks_reopened, 0)::int AS tasks_reopened,
       coalesce(f.tasks_blocked, 0)::int AS tasks_blocked,
       w.end_open::int AS end_open, w.end_in_progress::int AS end_in_progress,
       w.end_blocked::int AS end_blocked, w.end_done::int AS end_done,
       f.cycle_time_p50, f.cycle_time_p85, f.cycle_time_p95,
       f.lead_time_p50, f.lead_time_p85, f.lead_time_p95,
       a.open_age_p50, a.open_age_p85, a.open_age_max,
       coalesce(s.time_open_seconds, 0) AS time_open_seconds,
       coalesce(s.time_in_progress_seconds, 0) AS time_in_progress_seconds,
       coalesce(s.time_blocked_seconds, 0) AS time_blocked_seconds,
       coalesce(s.sla_start_met, 0)::int AS sla_start_met,
       coalesce(s.sla_start_breached, 0)::int AS sla_start_breached,
       coalesce(s.sla_done_met, 0)::int AS sla_done_met,
       coalesce(s.sla_done_breached, 0)::int AS sla_done_breached
FROM wip w
LEFT JOIN flow f USING (project_id, dn)
LEFT JOIN open_age a USING (project_id, dn)
LEFT JOIN sla s USING (project_id, dn)
-- A project has a row on each day it exists (created, not archived before the day) and on each day it
-- has unfinished or active tasks (imported history may predate the project row).
WHERE w.active OR s.project_id IS NOT NULL OR w.end_open <> 0 OR w.end_in_progress <> 0 OR w.end_blocked <> 0
"""

_SNAPSHOT_KEYS = ("project_id", "day")
_SNAPSHOT_VALUES = (
    *("tasks_created", "tasks_started", "tasks_completed", "tasks_reopened", "tasks_blocked"),
    *("end_open", "end_in_progress", "end_blocked", "end_done"),
    *(
        "cycle_time_p50",
        "cycle_time_p85",
        "cycle_time_p95",
        "lead_time_p50",
        "lead_time_p85",
        "lead_time_p95",
    ),
    *("open_age_p50", "open_age_p85", "open_age_max"),
    *("time_open_seconds", "time_in_progress_seconds", "time_blocked_seconds"),
    *("sla_start_met", "sla_start_breached", "sla_done_met", "sla_done_breached"),
)


def _snapshot_chunk(
    session: TenantSession, chunk: TenantDays, now: dt.datetime, built_at: dt.datetime, log_seq: int
) -> WriteStats:
    params = {
        "c0": day_number(chunk.first_day),
        "c1": day_number(chunk.last_day),
        "h": horizon_seconds(now),
        "first_day": chunk.first_day,
        "last_day": chunk.last_day,
        "built_at": built_at,
        "log_seq": log_seq,
    }
    stats = _sync(
        session,
        table=SNAPSHOT,
        rows=_SNAPSHOT_ROWS,
        keys=_SNAPSHOT_KEYS,
        values=_SNAPSHOT_VALUES,
        params=params,
    )
    # The build record moves on every build, changed or not: it is the figures' `as_of`.
    session.execute(
        f"""INSERT INTO {BUILDS} (day, built_at, log_seq)
            SELECT d::date, %(built_at)s, %(log_seq)s
            FROM generate_series(%(first_day)s::date, %(last_day)s::date, interval '1 day') AS d
            ON CONFLICT (day) DO UPDATE SET built_at = EXCLUDED.built_at, log_seq = EXCLUDED.log_seq""",
        params,
    )
    return stats


# --- both, from one pass over the log ------------------------------------------------------------------
@dataclass(frozen=True)
class RebuildStats:
    task_sla: WriteStats
    snapshots: WriteStats


def rebuild_projections(
    session: TenantSession,
    span: TenantDays,
    *,
    now: dt.datetime,
    targets: dict[str, SlaTarget],
    built_at: dt.datetime,
) -> RebuildStats:
    """Rebuild TaskSLA and AnalyticsSnapshot for every day of `span` from the log.

    The segments are built once for both tables (they are the costliest read of the log). Each chunk of
    days is one transaction: its TaskSLA rows, then the snapshots computed from them, so a reader never
    sees a chunk's snapshots disagree with its TaskSLA rows, and the rows just written are still in cache.
    """
    log_seq = int(session.fetchone(f"SELECT coalesce(max(seq), 0) FROM {LOG}")[0])
    load_segments(session, span, now)
    try:
        task_sla, snapshots = WriteStats(), WriteStats()
        for chunk in split(span, CHUNK_DAYS):
            with session.atomic():
                task_sla += _sla_chunk(session, chunk, now, targets, built_at)
                snapshots += _snapshot_chunk(session, chunk, now, built_at, log_seq)
        return RebuildStats(task_sla=task_sla, snapshots=snapshots)
    finally:
        drop_segments(session)


# --- the day's activity --------------------------------------------------------------------------------
_VERBS = list(ActivityVerb.values)

_DAY_ACTIVITY = f"""
SELECT floor(extract(epoch FROM occurred_at))::bigint / 86400 AS dn, count(*), count(DISTINCT task_id),
       min(seq), max(seq), {", ".join(f"count(*) FILTER (WHERE verb = '{verb}')" for verb in _VERBS)}
FROM {LOG}
WHERE occurred_at >= to_timestamp(%(start_t)s) AND occurred_at < to_timestamp(%(end_t)s)
GROUP BY 1 ORDER BY 1
"""


def day_activity(session: TenantSession, span: TenantDays, *, now: dt.datetime) -> list[DayActivity]:
    """Per day of `span` with any activity: row counts by verb, seq range and a fingerprint."""
    params = {"start_t": day_number(span.first_day) * DAY, "end_t": end_seconds(span.last_day, now)}
    days = session.fetchall(_DAY_ACTIVITY, params)
    last_hashes = dict(
        session.fetchall(
            f"SELECT seq, hash FROM {LOG} WHERE seq = ANY(%(seqs)s)", {"seqs": [d[4] for d in days]}
        )
    )
    return [
        DayActivity(
            day=EPOCH + dt.timedelta(days=int(dn)),
            rows=int(rows),
            tasks=int(tasks),
            by_verb={verb: int(count) for verb, count in zip(_VERBS, counts, strict=True) if count},
            first_seq=int(first_seq),
            last_seq=int(last_seq),
            fingerprint=hashlib.md5(
                f"{rows}:{last_seq}:{last_hashes[last_seq]}".encode(), usedforsecurity=False
            ).hexdigest(),
        )
        for dn, rows, tasks, first_seq, last_seq, *counts in days
    ]
