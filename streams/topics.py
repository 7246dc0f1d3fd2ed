"""The worker's topics: their names (before the prefix) and the configuration each is created with.

SPEC.md section 2 and 5: three input topics, co-partitioned by lead (same partition count), and
five output topics; ``sla.facts`` is compacted (the latest fact per lead).
"""

from __future__ import annotations

from collections.abc import Mapping

LEADS_CREATED = "leads.created"
LEADS_OWNERSHIP = "leads.ownership"
LEADS_ACTIVITY = "leads.activity"
SLA_ALERTS = "sla.alerts"
SLA_TASKS = "sla.tasks"
SLA_MEASUREMENTS = "sla.measurements"
SLA_FACTS = "sla.facts"
SLA_DLQ = "sla.dlq"

INPUT_TOPICS: tuple[str, ...] = (LEADS_CREATED, LEADS_OWNERSHIP, LEADS_ACTIVITY)
OUTPUT_TOPICS: tuple[str, ...] = (SLA_ALERTS, SLA_TASKS, SLA_MEASUREMENTS, SLA_FACTS, SLA_DLQ)
ALL_TOPICS: tuple[str, ...] = INPUT_TOPICS + OUTPUT_TOPICS

TOPIC_CONFIGS: Mapping[str, Mapping[str, str]] = {
    SLA_FACTS: {"cleanup.policy": "compact"},
}
