"""lead-sla: a lead response SLA monitor on Apache Kafka."""

__version__ = "0.1.0"
