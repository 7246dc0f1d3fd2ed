"""The read-model schema: every table and view, written once for SQLite and PostgreSQL.

The DDL uses placeholders for the few types the two databases spell differently (``{TS}`` is
``TEXT`` holding fixed-width UTC text in SQLite and ``TIMESTAMPTZ`` in PostgreSQL; ``{BOOL}`` is
``INTEGER`` 0/1 and ``BOOLEAN``; ``{DOUBLE}``, ``{DATE}``, ``{BIGINT}``, ``{JSON}``). Views are
portable SQL (window functions, correlated ``EXISTS``, integer division) and are dropped and
re-created at every start, so a new view definition needs no migration; tables carry a
``schema_version`` in ``projector_meta`` and are migrated by :data:`MIGRATIONS`.

Every measure comes from ``lead_facts`` (SPEC.md section 6: one row per lead, the highest fact
``version`` wins); the alert and task logs add what the facts do not say (the backup owner, a lead
closed after its breach, the open task and who holds it).
"""

from __future__ import annotations

from typing import Final, Literal

Dialect = Literal["sqlite", "postgresql"]

SCHEMA_VERSION: Final = 1

TYPES: Final[dict[Dialect, dict[str, str]]] = {
    "sqlite": {
        "TS": "TEXT",
        "BOOL": "INTEGER",
        "DOUBLE": "REAL",
        "DATE": "TEXT",
        "BIGINT": "INTEGER",
        "JSON": "TEXT",
    },
    "postgresql": {
        "TS": "TIMESTAMPTZ",
        "BOOL": "BOOLEAN",
        "DOUBLE": "DOUBLE PRECISION",
        "DATE": "DATE",
        "BIGINT": "BIGINT",
        "JSON": "JSONB",
    },
}

# Column lists the projector writes (order matters: the INSERT statements follow them).
FACT_COLUMNS: Final = (
    "lead_id",
    "version",
    "fact_event_id",
    "fact_at",
    "source",
    "priority",
    "intent",
    "owner_id",
    "manager_id",
    "created_at",
    "created_day",
    "due_at",
    "status",
    "eligible",
    "responded_at",
    "response_seconds",
    "within_sla",
    "breach_reason",
    "resolution_note",
    "resolved_by",
    "pre_breach_warned",
    "escalated",
    "escalation_level",
    "meeting_after_escalation",
    "stale",
    "in_review",
    "policy_version",
)
TIMER_COLUMNS: Final = (
    "lead_id",
    "timer_event_id",
    "timer_at",
    "owner_id",
    "backup_owner_id",
    "manager_id",
    "due_at",
    "warn_at",
    "target_minutes",
    "clock",
)
ALERT_COLUMNS: Final = (
    "event_id",
    "lead_id",
    "type",
    "occurred_at",
    "recipient_id",
    "owner_id",
    "reason",
    "due_at",
    "source",
    "priority",
    "suppressed",
    "data",
)
TASK_COLUMNS: Final = (
    "event_id",
    "task_id",
    "lead_id",
    "type",
    "occurred_at",
    "assignee_id",
    "assignee_role",
    "level",
    "reason",
    "apology_review_required",
    "suppressed",
    "data",
)
CLOSING_COLUMNS: Final = ("event_id", "task_id", "lead_id", "occurred_at", "reason", "suppressed")
RETRACTION_COLUMNS: Final = (
    "event_id",
    "retracted_event_id",
    "retracted_type",
    "lead_id",
    "occurred_at",
    "reason",
)
RESPONSE_COLUMNS: Final = (
    "event_id",
    "lead_id",
    "occurred_at",
    "responder_id",
    "kind",
    "response_seconds",
    "business_seconds",
    "within_sla",
)
DEAD_LETTER_COLUMNS: Final = (
    "original_topic",
    "original_partition",
    "original_offset",
    "lead_id",
    "event_id",
    "reason",
    "received_at",
)

TABLES: Final = (
    "projector_meta",
    "projector_positions",
    "lead_facts",
    "lead_timers",
    "alerts",
    "tasks",
    "task_closings",
    "retractions",
    "responses",
    "dead_letters",
)

TABLE_DDL: Final = (
    """CREATE TABLE projector_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
)""",
    """CREATE TABLE projector_positions (
    stream TEXT NOT NULL,
    part INTEGER NOT NULL,
    next_offset {BIGINT} NOT NULL,
    byte_offset {BIGINT},
    updated_at {TS} NOT NULL,
    PRIMARY KEY (stream, part)
)""",
    """CREATE TABLE lead_facts (
    lead_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    fact_event_id TEXT NOT NULL,
    fact_at {TS} NOT NULL,
    source TEXT NOT NULL,
    priority TEXT NOT NULL,
    intent TEXT NOT NULL,
    owner_id TEXT,
    manager_id TEXT,
    created_at {TS} NOT NULL,
    created_day {DATE} NOT NULL,
    due_at {TS},
    status TEXT NOT NULL,
    eligible {BOOL} NOT NULL,
    responded_at {TS},
    response_seconds {DOUBLE},
    within_sla {BOOL},
    breach_reason TEXT,
    resolution_note TEXT,
    resolved_by TEXT,
    pre_breach_warned {BOOL} NOT NULL,
    escalated {BOOL} NOT NULL,
    escalation_level INTEGER NOT NULL,
    meeting_after_escalation {BOOL} NOT NULL,
    stale {BOOL} NOT NULL,
    in_review {BOOL} NOT NULL,
    policy_version TEXT NOT NULL
)""",
    """CREATE TABLE lead_timers (
    lead_id TEXT PRIMARY KEY,
    timer_event_id TEXT NOT NULL,
    timer_at {TS} NOT NULL,
    owner_id TEXT,
    backup_owner_id TEXT,
    manager_id TEXT,
    due_at {TS} NOT NULL,
    warn_at {TS} NOT NULL,
    target_minutes {DOUBLE} NOT NULL,
    clock TEXT NOT NULL
)""",
    """CREATE TABLE alerts (
    event_id TEXT PRIMARY KEY,
    lead_id TEXT NOT NULL,
    type TEXT NOT NULL,
    occurred_at {TS} NOT NULL,
    recipient_id TEXT,
    owner_id TEXT,
    reason TEXT,
    due_at {TS},
    source TEXT,
    priority TEXT,
    suppressed {BOOL} NOT NULL,
    data {JSON} NOT NULL
)""",
    """CREATE TABLE tasks (
    event_id TEXT PRIMARY KEY,
    task_id TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    type TEXT NOT NULL,
    occurred_at {TS} NOT NULL,
    assignee_id TEXT NOT NULL,
    assignee_role TEXT NOT NULL,
    level INTEGER,
    reason TEXT NOT NULL,
    apology_review_required {BOOL} NOT NULL,
    suppressed {BOOL} NOT NULL,
    data {JSON} NOT NULL
)""",
    """CREATE TABLE task_closings (
    event_id TEXT PRIMARY KEY,
    task_id TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    occurred_at {TS} NOT NULL,
    reason TEXT NOT NULL,
    suppressed {BOOL} NOT NULL
)""",
    """CREATE TABLE retractions (
    event_id TEXT PRIMARY KEY,
    retracted_event_id TEXT NOT NULL,
    retracted_type TEXT,
    lead_id TEXT NOT NULL,
    occurred_at {TS} NOT NULL,
    reason TEXT NOT NULL
)""",
    """CREATE TABLE responses (
    event_id TEXT PRIMARY KEY,
    lead_id TEXT NOT NULL,
    occurred_at {TS} NOT NULL,
    responder_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    response_seconds {DOUBLE} NOT NULL,
    business_seconds {DOUBLE},
    within_sla {BOOL} NOT NULL
)""",
    """CREATE TABLE dead_letters (
    original_topic TEXT NOT NULL,
    original_partition INTEGER NOT NULL,
    original_offset {BIGINT} NOT NULL,
    lead_id TEXT,
    event_id TEXT,
    reason TEXT NOT NULL,
    received_at {TS} NOT NULL,
    PRIMARY KEY (original_topic, original_partition, original_offset)
)""",
    "CREATE INDEX alerts_lead ON alerts (lead_id, type)",
    "CREATE INDEX tasks_lead ON tasks (lead_id)",
    "CREATE INDEX tasks_task ON tasks (task_id)",
    "CREATE INDEX task_closings_task ON task_closings (task_id)",
    "CREATE INDEX retractions_target ON retractions (retracted_event_id)",
    "CREATE INDEX responses_lead ON responses (lead_id)",
    "CREATE INDEX lead_facts_created ON lead_facts (created_at)",
)

MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {}
"""``from_version -> statements`` bringing tables from that schema version to the next one."""

# Decided = met or breached; compliance = met within SLA / decided, over eligible leads.
_COMPLIANCE_COLUMNS = """
    COUNT(*) AS leads,
    SUM(CASE WHEN eligible THEN 1 ELSE 0 END) AS eligible_leads,
    SUM(CASE WHEN eligible AND status IN ('met', 'breached') THEN 1 ELSE 0 END) AS decided,
    SUM(CASE WHEN eligible AND status = 'met' AND within_sla THEN 1 ELSE 0 END) AS met,
    SUM(CASE WHEN eligible AND status = 'breached' THEN 1 ELSE 0 END) AS breached,
    CAST(SUM(CASE WHEN eligible AND status = 'met' AND within_sla THEN 1 ELSE 0 END)
        AS DOUBLE PRECISION)
      / NULLIF(SUM(CASE WHEN eligible AND status IN ('met', 'breached') THEN 1 ELSE 0 END), 0)
      AS compliance"""

VIEWS: Final[tuple[tuple[str, str], ...]] = (
    (
        "alert_log",
        """SELECT a.event_id, a.lead_id, a.type, a.occurred_at, a.recipient_id, a.owner_id,
       a.reason, a.due_at, a.source, a.priority, a.suppressed,
       EXISTS (SELECT 1 FROM retractions r WHERE r.retracted_event_id = a.event_id)
         AS retracted
FROM alerts a""",
    ),
    (
        "task_log",
        """SELECT t.event_id, t.task_id, t.lead_id, t.type, t.occurred_at, t.assignee_id,
       t.assignee_role, t.level, t.reason, t.apology_review_required, t.suppressed,
       EXISTS (SELECT 1 FROM retractions r WHERE r.retracted_event_id = t.event_id)
         AS retracted,
       (SELECT MIN(c.occurred_at) FROM task_closings c
         WHERE c.task_id = t.task_id
           AND NOT EXISTS (SELECT 1 FROM retractions r WHERE r.retracted_event_id = c.event_id))
         AS closed_at,
       (SELECT MIN(c.reason) FROM task_closings c
         WHERE c.task_id = t.task_id
           AND NOT EXISTS (SELECT 1 FROM retractions r WHERE r.retracted_event_id = c.event_id))
         AS close_reason
FROM tasks t""",
    ),
    (
        "open_tasks",
        """SELECT * FROM task_log WHERE NOT retracted AND closed_at IS NULL""",
    ),
    (
        "leads",
        """SELECT f.lead_id, f.source, f.priority, f.intent, f.owner_id,
       t.backup_owner_id, f.manager_id, f.created_at, f.created_day, f.due_at, f.status,
       f.eligible, f.responded_at, f.response_seconds, f.within_sla, f.breach_reason,
       f.resolution_note, f.resolved_by, f.pre_breach_warned, f.escalated,
       f.escalation_level, f.meeting_after_escalation, f.stale, f.in_review,
       f.policy_version, f.version,
       EXISTS (SELECT 1 FROM alerts a WHERE a.lead_id = f.lead_id AND a.type = 'sla.excluded'
               AND NOT EXISTS (SELECT 1 FROM retractions r
                               WHERE r.retracted_event_id = a.event_id)) AS closed
FROM lead_facts f LEFT JOIN lead_timers t ON t.lead_id = f.lead_id""",
    ),
    (
        "breaches",
        """SELECT lead_id, source, priority, owner_id, manager_id, created_at, due_at AS breached_at,
       breach_reason, resolution_note, resolved_by, escalation_level, responded_at
FROM lead_facts WHERE status = 'breached'""",
    ),
    (
        "compliance_by_source",
        f"SELECT source, {_COMPLIANCE_COLUMNS}\nFROM lead_facts GROUP BY source",
    ),
    (
        "compliance_by_owner",
        f"SELECT COALESCE(owner_id, '(none)') AS owner_id, {_COMPLIANCE_COLUMNS}\n"
        "FROM lead_facts GROUP BY COALESCE(owner_id, '(none)')",
    ),
    (
        "compliance_by_day",
        f"SELECT created_day AS day, {_COMPLIANCE_COLUMNS}\nFROM lead_facts GROUP BY created_day",
    ),
    (
        "first_response_times",
        """SELECT lead_id, source, owner_id, response_seconds,
       ROW_NUMBER() OVER (ORDER BY response_seconds, lead_id) AS rank,
       COUNT(*) OVER () AS responses
FROM lead_facts WHERE eligible AND response_seconds IS NOT NULL""",
    ),
    (
        "response_time_percentiles",
        # Nearest rank: the p-th percentile of n sorted values is value number ceil(p * n);
        # ceil(n / 2) = (n + 1) / 2 and ceil(9 n / 10) = (9 n + 9) / 10 in integer division.
        """SELECT COUNT(*) AS responses,
       MAX(CASE WHEN rank = (responses + 1) / 2 THEN response_seconds END) AS median_seconds,
       MAX(CASE WHEN rank = (9 * responses + 9) / 10 THEN response_seconds END) AS p90_seconds
FROM first_response_times""",
    ),
    (
        "pre_breach_warnings",
        """SELECT COALESCE(owner_id, '(none)') AS owner_id, COUNT(*) AS warned
FROM lead_facts WHERE pre_breach_warned GROUP BY COALESCE(owner_id, '(none)')""",
    ),
    (
        "breaches_by_reason",
        """SELECT COALESCE(breach_reason, '(unknown)') AS breach_reason, COUNT(*) AS breaches,
       SUM(CASE WHEN resolution_note IS NOT NULL THEN 1 ELSE 0 END) AS resolved
FROM lead_facts WHERE status = 'breached' GROUP BY COALESCE(breach_reason, '(unknown)')""",
    ),
    (
        "stale_high_intent_open",
        """SELECT lead_id, source, owner_id, backup_owner_id, manager_id, created_at, status
FROM leads
WHERE stale AND intent = 'high' AND responded_at IS NULL
  AND status IN ('open', 'held', 'breached') AND NOT closed""",
    ),
    (
        "meeting_rate_after_escalation",
        """SELECT SUM(CASE WHEN escalated THEN 1 ELSE 0 END) AS escalated_leads,
       SUM(CASE WHEN escalated AND meeting_after_escalation THEN 1 ELSE 0 END) AS meetings,
       CAST(SUM(CASE WHEN escalated AND meeting_after_escalation THEN 1 ELSE 0 END)
         AS DOUBLE PRECISION) / NULLIF(SUM(CASE WHEN escalated THEN 1 ELSE 0 END), 0) AS rate
FROM lead_facts""",
    ),
    (
        "exclusion_rate_by_owner",
        """SELECT COALESCE(owner_id, '(none)') AS owner_id, COUNT(*) AS leads,
       SUM(CASE WHEN status = 'excluded' THEN 1 ELSE 0 END) AS excluded,
       CAST(SUM(CASE WHEN status = 'excluded' THEN 1 ELSE 0 END) AS DOUBLE PRECISION)
         / COUNT(*) AS rate
FROM lead_facts GROUP BY COALESCE(owner_id, '(none)')""",
    ),
    (
        "coverage",
        """SELECT
  (SELECT COUNT(*) FROM (SELECT lead_id FROM lead_facts
                         UNION SELECT lead_id FROM dead_letters WHERE lead_id IS NOT NULL) s)
    AS leads_seen,
  (SELECT COUNT(*) FROM lead_facts) AS leads_created,
  (SELECT COUNT(DISTINCT d.lead_id) FROM dead_letters d
    WHERE d.lead_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM lead_facts f WHERE f.lead_id = d.lead_id))
    AS leads_without_created,
  (SELECT COUNT(*) FROM dead_letters) AS dead_letters""",
    ),
    (
        "short_list",
        # Open leads that need a person now: breached and neither answered, resolved nor
        # closed; held; open and stale; open, unowned and past the warning point.
        """SELECT l.lead_id, l.source, l.priority, l.owner_id, l.backup_owner_id, l.manager_id,
       l.created_at, l.due_at, l.status, l.breach_reason, l.stale, l.escalation_level,
       l.in_review,
       (SELECT MAX(o.reason) FROM open_tasks o WHERE o.lead_id = l.lead_id
          AND o.type = 'sla.review_requested'
          AND o.reason IN ('consent_unclear', 'ownership_conflict')) AS hold_reason,
       (SELECT o.assignee_id FROM open_tasks o WHERE o.lead_id = l.lead_id
          ORDER BY o.occurred_at DESC, o.event_id DESC LIMIT 1) AS task_assignee_id,
       (SELECT o.type FROM open_tasks o WHERE o.lead_id = l.lead_id
          ORDER BY o.occurred_at DESC, o.event_id DESC LIMIT 1) AS task_type,
       EXISTS (SELECT 1 FROM open_tasks o WHERE o.lead_id = l.lead_id
               AND o.apology_review_required) AS apology_review_required
FROM leads l
WHERE NOT l.closed AND l.responded_at IS NULL
  AND ((l.status = 'breached' AND l.resolution_note IS NULL)
       OR l.status = 'held'
       OR (l.status = 'open' AND (l.stale OR (l.owner_id IS NULL AND l.pre_breach_warned))))""",
    ),
)

VIEW_NAMES: Final = tuple(name for name, _ in VIEWS)


def table_ddl(dialect: Dialect) -> list[str]:
    return [statement.format(**TYPES[dialect]) for statement in TABLE_DDL]


def view_ddl(dialect: Dialect) -> list[str]:
    return [f"CREATE VIEW {name} AS\n{body}" for name, body in VIEWS]
