"""The worker's topics: their names (before the prefix) and the configuration each is created with.

SPEC.md section 2 and 5: three input topics, co-partitioned by lead (same partition count), and
five output topics; ``sla.facts`` is compacted (the latest fact per lead).
"""

from __future__ import annotations

from collections.abc import Mapping

from leadsla.schemas.outputs import (
    TOPIC_ALERTS,
    TOPIC_DLQ,
    TOPIC_FACTS,
    TOPIC_MEASUREMENTS,
    TOPIC_TASKS,
)

LEADS_CREATED = "leads.created"
LEADS_OWNERSHIP = "leads.ownership"
LEADS_ACTIVITY = "leads.activity"
# The output topics are part of the wire contract: one definition, in schemas/.
SLA_ALERTS = TOPIC_ALERTS
SLA_TASKS = TOPIC_TASKS
SLA_MEASUREMENTS = TOPIC_MEASUREMENTS
SLA_FACTS = TOPIC_FACTS
SLA_DLQ = TOPIC_DLQ

INPUT_TOPICS: tuple[str, ...] = (LEADS_CREATED, LEADS_OWNERSHIP, LEADS_ACTIVITY)
OUTPUT_TOPICS: tuple[str, ...] = (SLA_ALERTS, SLA_TASKS, SLA_MEASUREMENTS, SLA_FACTS, SLA_DLQ)
ALL_TOPICS: tuple[str, ...] = INPUT_TOPICS + OUTPUT_TOPICS

TOPIC_CONFIGS: Mapping[str, Mapping[str, str]] = {
    SLA_FACTS: {"cleanup.policy": "compact"},
}
