"""The worker's Prometheus metrics, on an injected registry (ARCHITECTURE.md habit 8).

``Metrics(registry)`` registers one collector on ``registry`` (a fresh ``CollectorRegistry``
when none is given, never the process-global one, so every test and every app has its own).
The agent reports once per batch (``observe_batch``, ``observe_send``, ``observe_alert_delay``)
and the deadline loop reports the open leads and the consumer lag. Names start with
``lead_sla_``; times are in seconds; counters end in ``_total``.

| metric | type | labels | meaning |
|---|---|---|---|
| ``lead_sla_inputs_total`` | counter | ``type`` | input records read, by event type (``invalid`` when undecodable) |
| ``lead_sla_dead_letters_total`` | counter | ``reason`` | records sent to ``sla.dlq``: ``invalid``, ``key``, ``engine``, ``future``, ``held``, ``retired``, ``conflict``, ``failed`` |
| ``lead_sla_duplicates_total`` | counter | | repeated inputs ignored (rule 15) |
| ``lead_sla_outputs_total`` | counter | ``type`` | output events published (one event on two topics counts once) |
| ``lead_sla_retractions_total`` | counter | | ``sla.alert_retracted`` published (rule 14) |
| ``lead_sla_suppressed_total`` | counter | | alerts and tasks published with ``suppressed = true`` (older than the horizon) |
| ``lead_sla_ticks_total`` | counter | | deadline ticks sent by the deadline loop |
| ``lead_sla_input_rewinds_total`` | counter | | input partitions read again from an earlier offset: records the consumer dropped around a rebalance (``continuity.py``) |
| ``lead_sla_state_loads_total`` | counter | ``source`` | lead states loaded: ``kept`` (the state this worker stored last, kept decoded; ``LEADSLA_STATE_CACHE``) or ``decoded`` (from the store's bytes) |
| ``lead_sla_open_leads`` | gauge | | leads in this worker's partitions waiting for the clock (a timer, a held event's wait, retirement) |
| ``lead_sla_consumer_lag_records`` | gauge | ``topic`` | input records not yet processed (this worker's partitions) |
| ``lead_sla_alert_delay_seconds`` | histogram | | from an alert's or task's due instant to its publication |
| ``lead_sla_batch_seconds`` | histogram | | decode + engine + encode of one batch of records |
| ``lead_sla_send_seconds`` | histogram | | publishing one batch's records until the broker acknowledged them |
| ``lead_sla_event_lag_seconds`` | histogram | ``topic`` | wall clock when an input was read minus its ``occurred_at`` |

The counts are plain Python numbers, turned into metric families when the registry is scraped:
``prometheus_client``'s own metric objects take a lock per update. Only the faust event loop's
thread calls the ``observe_*`` methods; a scrape (another thread) copies the numbers first.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from typing import Final

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from leadsla.domain.events import TYPE_NAME
from leadsla.schemas.outputs import OUTPUT_TOPICS, RETRACTION_TYPE
from leadsla.topics import INPUT_TOPICS

from .process import Counts

PREFIX: Final = "lead_sla_"

PROCESS_BUCKETS: Final = (
    *(1e-5, 2.5e-5, 5e-5),
    *(1e-4, 2.5e-4, 5e-4),
    *(1e-3, 2.5e-3, 5e-3),
    *(1e-2, 2.5e-2, 5e-2),
    0.1,
)
"""10 µs to 100 ms: a record's processing is tens of microseconds when all is well."""

SEND_BUCKETS: Final = (
    *(1e-5, 1e-4, 2.5e-4, 5e-4),
    *(1e-3, 2.5e-3, 5e-3),
    *(1e-2, 2.5e-2, 5e-2),
    *(0.1, 0.25, 0.5),
    *(1.0, 2.5, 5.0),
)
"""10 µs to 5 s: handing records to the producer is quick; a full buffer waits for the broker."""

LAG_BUCKETS: Final = (
    *(0.05, 0.1, 0.25, 0.5),
    *(1.0, 2.5, 5.0, 10.0, 30.0),
    *(60.0, 300.0, 900.0),
    *(3600.0, 4 * 3600.0, 86400.0, 7 * 86400.0),
)
"""50 ms to a week: live traffic is sub-second, a worker catching up is minutes to hours."""

DELAY_BUCKETS: Final = (
    *(0.05, 0.1, 0.2, 0.3, 0.5, 0.75),
    *(1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0),
)
"""50 ms to 5 min: an alert is due to go out within a second of its instant (plus grace)."""

BATCH_BUCKETS: Final = (*(b * 10 for b in PROCESS_BUCKETS), 2.5, 5.0)

OUTPUT_TYPES: Final = (*OUTPUT_TOPICS, RETRACTION_TYPE)
"""Every output type the engine emits; each has an ``outputs_total`` series from the start."""

INPUT_TYPES: Final = (*TYPE_NAME.values(), "invalid")
DEAD_LETTER_REASONS: Final = (
    "invalid",
    "key",
    "engine",
    "future",
    "held",
    "retired",
    "conflict",
    "failed",
)


class Histogram:
    """Bucket counts and a sum; ``observe`` is a bisect and two additions."""

    __slots__ = ("bounds", "counts", "les", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.total = 0.0
        self.les: tuple[str, ...] = tuple(
            floatToGoString(bound)  # type: ignore[no-untyped-call]
            for bound in (*self.bounds, math.inf)
        )

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # le: value <= bound
        self.total += value

    def cumulative(self) -> tuple[list[tuple[str, float]], float]:
        """(le, cumulative count) of every bucket with ``+Inf`` last, and the sum."""
        counts = list(self.counts)  # one copy, so the buckets agree with each other
        total = self.total
        buckets: list[tuple[str, float]] = []
        running = 0
        for le, count in zip(self.les, counts, strict=True):
            running += count
            buckets.append((le, running))
        return buckets, total


class Metrics:
    """The worker's metrics; ``registry`` is where a scrape (or a test) reads them."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.inputs: dict[str, int] = dict.fromkeys(INPUT_TYPES, 0)
        self.dead_letters: dict[str, int] = dict.fromkeys(DEAD_LETTER_REASONS, 0)
        self.outputs: dict[str, int] = dict.fromkeys(OUTPUT_TYPES, 0)
        self.duplicates = 0
        self.retractions = 0
        self.suppressed = 0
        self.ticks = 0
        self.rewinds = 0
        self.state_loads: dict[str, int] = {"kept": 0, "decoded": 0}
        self.open_leads = 0
        self.consumer_lag: dict[str, int] = dict.fromkeys(INPUT_TOPICS, 0)
        self.alert_delay = Histogram(DELAY_BUCKETS)
        self.batch = Histogram(BATCH_BUCKETS)
        self.send = Histogram(SEND_BUCKETS)
        self.event_lag: dict[str, Histogram] = {t: Histogram(LAG_BUCKETS) for t in INPUT_TOPICS}
        self.registry.register(_Collector(self))

    def observe_batch(self, counts: Counts, output_types: Sequence[str], seconds: float) -> None:
        """One batch: what the processor counted, the types of the events it published."""
        _add(self.inputs, counts.inputs)
        _add(self.dead_letters, counts.dead_letters)
        self.duplicates += counts.duplicates
        self.retractions += counts.retractions
        self.suppressed += counts.suppressed
        outputs = self.outputs
        for name in output_types:
            outputs[name] = outputs.get(name, 0) + 1
        self.batch.observe(seconds)

    def observe_event_lag(self, topic: str, seconds: float) -> None:
        histogram = self.event_lag.get(topic)
        if histogram is None:
            histogram = self.event_lag[topic] = Histogram(LAG_BUCKETS)
        histogram.observe(max(0.0, seconds))

    def observe_send(self, seconds: float) -> None:
        """Publishing one batch's records took ``seconds`` (until acknowledged)."""
        self.send.observe(seconds)

    def observe_alert_delay(self, seconds: float) -> None:
        self.alert_delay.observe(max(0.0, seconds))


def _add(into: dict[str, int], counts: Mapping[str, int]) -> None:
    for name, count in counts.items():
        into[name] = into.get(name, 0) + count


class _Collector:
    """Turns the plain numbers into metric families when the registry is scraped."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterator[Metric]:
        # Lets the registry refuse a second Metrics on the same registry (duplicate names).
        yield from self._families(with_samples=False)

    def collect(self) -> Iterator[Metric]:
        yield from self._families(with_samples=True)

    def _families(self, *, with_samples: bool) -> Iterator[Metric]:
        m = self.metrics
        yield _counter(
            "inputs", "Input records read, by event type.", "type", m.inputs, with_samples
        )
        yield _counter(
            "dead_letters",
            "Records written to sla.dlq, by reason.",
            "reason",
            m.dead_letters,
            with_samples,
        )
        yield _counter(
            "outputs",
            "Output events published (an event written to two topics counts once).",
            "type",
            m.outputs,
            with_samples,
        )
        yield _counter(
            "state_loads",
            "Lead states loaded: kept (decoded, as this worker stored them) or decoded.",
            "source",
            m.state_loads,
            with_samples,
        )
        for name, doc, value in (
            ("duplicates", "Repeated inputs ignored (rule 15).", m.duplicates),
            ("retractions", "sla.alert_retracted events published (rule 14).", m.retractions),
            ("suppressed", "Alerts and tasks published with suppressed = true.", m.suppressed),
            ("ticks", "Deadline ticks sent by the deadline loop.", m.ticks),
            (
                "input_rewinds",
                "Input partitions read again from an earlier offset (records dropped by the consumer).",
                m.rewinds,
            ),
        ):
            counter = CounterMetricFamily(PREFIX + name, doc)
            if with_samples:
                counter.add_metric([], value)
            yield counter
        gauge = GaugeMetricFamily(
            PREFIX + "open_leads",
            "Leads in this worker's partitions waiting for the clock (timer, held wait, retirement).",
        )
        if with_samples:
            gauge.add_metric([], m.open_leads)
        yield gauge
        lag = GaugeMetricFamily(
            PREFIX + "consumer_lag_records",
            "Input records not yet processed in this worker's partitions.",
            labels=["topic"],
        )
        if with_samples:
            for topic, count in list(m.consumer_lag.items()):
                lag.add_metric([topic], count)
        yield lag
        for name, doc, histogram in (
            (
                "alert_delay_seconds",
                "From an alert's or task's due instant to its publication.",
                m.alert_delay,
            ),
            ("batch_seconds", "Decode, engine and encode of one batch.", m.batch),
            ("send_seconds", "Publishing one batch until the broker acknowledged it.", m.send),
        ):
            family = HistogramMetricFamily(PREFIX + name, doc)
            if with_samples:
                buckets, total = histogram.cumulative()
                family.add_metric([], buckets, total)
            yield family
        event_lag = HistogramMetricFamily(
            PREFIX + "event_lag_seconds",
            "Wall clock when an input was read minus its occurred_at (0 if ahead).",
            labels=["topic"],
        )
        if with_samples:
            for topic, histogram in list(m.event_lag.items()):
                buckets, total = histogram.cumulative()
                event_lag.add_metric([topic], buckets, total)
        yield event_lag


def _counter(
    name: str, doc: str, label: str, counts: Mapping[str, int], with_samples: bool
) -> CounterMetricFamily:
    family = CounterMetricFamily(PREFIX + name, doc, labels=[label])
    if with_samples:
        for value, count in list(counts.items()):  # list(): one copy under the GIL
            family.add_metric([value], count)
    return family
