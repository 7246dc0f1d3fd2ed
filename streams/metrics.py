"""The worker's Prometheus metrics, on an injected registry (ARCHITECTURE.md habit 8).

``Metrics(registry)`` registers one collector on ``registry`` (a fresh ``CollectorRegistry``
when none is given, never the process-global one, so every test and every app has its own).
The agent reports to it with two calls: ``observe_record`` after each input record and
``observe_send`` after publishing a record's outputs. Names start with ``lead_sla_``; times are
in seconds.

| metric | type | labels | meaning |
|---|---|---|---|
| ``lead_sla_inputs_total`` | counter | ``topic`` | input records read |
| ``lead_sla_dead_letters_total`` | counter | ``topic`` | input records refused (to ``sla.dlq``) |
| ``lead_sla_outputs_total`` | counter | ``type`` | output events produced |
| ``lead_sla_process_seconds`` | histogram | | decode + engine + encode of one record |
| ``lead_sla_send_seconds`` | histogram | | publishing one record's outputs (or dead letter) |
| ``lead_sla_event_lag_seconds`` | histogram | ``topic`` | read time minus ``occurred_at`` |

``topic`` is the input topic's name without the prefix (``leads.created``). An output event
written to two topics (``sla.measured``: measurements and facts) counts once.

The counts are plain Python numbers, turned into metric families when the registry is scraped:
``prometheus_client``'s own metric objects take a lock per update, and five or six updates per
record cost several percent of the record's processing time. Only one thread may call the
``observe_*`` methods (the faust event loop's); a scrape (another thread) copies the numbers
first, and a histogram's ``_sum`` may then miss the one observation in progress.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Final

import orjson
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from leadsla.schemas.common import timestamp_micros
from leadsla.schemas.outputs import OUTPUT_TOPICS, RETRACTION_TYPE
from leadsla.topics import INPUT_TOPICS, SLA_DLQ

from .process import Origin, Output

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

OUTPUT_TYPES: Final = (*OUTPUT_TOPICS, RETRACTION_TYPE)
"""Every output type the engine emits; each has an ``outputs_total`` series from the start."""

UNKNOWN: Final = "unknown"

_TYPE_KEY: Final = b'"type":"'
_TYPE_SEARCH: Final = 128  # the codec writes "type" right after the 32-character event_id
_TYPE_NAMES: Final = {name.encode(): name for name in OUTPUT_TYPES}
_OCCURRED_AT_KEY: Final = b'"occurred_at":"'
_MICROS: Final = 1_000_000


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
        self.inputs: dict[str, int] = dict.fromkeys(INPUT_TOPICS, 0)
        self.dead_letters: dict[str, int] = dict.fromkeys(INPUT_TOPICS, 0)
        self.outputs: dict[str, int] = dict.fromkeys(OUTPUT_TYPES, 0)
        self.process = Histogram(PROCESS_BUCKETS)
        self.send = Histogram(SEND_BUCKETS)
        self.event_lag: dict[str, Histogram] = {t: Histogram(LAG_BUCKETS) for t in INPUT_TOPICS}
        self.registry.register(_Collector(self))

    def observe_record(
        self,
        topic: str,
        outputs: Sequence[Output],
        seconds: float,
        *,
        value: bytes | None = None,
        origin: Origin | None = None,
    ) -> None:
        """One input record of ``topic`` (no prefix) gave ``outputs`` in ``seconds``.

        With the record's ``value`` and ``origin``, and when it was not refused, its event lag
        is observed too: ``origin.received_at`` minus its ``occurred_at``.
        """
        inputs = self.inputs
        inputs[topic] = inputs.get(topic, 0) + 1
        self.process.observe(seconds)
        refused = False
        previous = b""
        counts = self.outputs
        for out_topic, _key, record in outputs:
            if out_topic == SLA_DLQ:
                refused = True
                continue
            if record == previous:  # the same event, written to a second topic
                continue
            previous = record
            name = output_type(record)
            counts[name] = counts.get(name, 0) + 1
        if refused:
            letters = self.dead_letters
            letters[topic] = letters.get(topic, 0) + 1
        elif value is not None and origin is not None:
            occurred_at = occurred_at_of(value, origin.headers)
            if occurred_at is not None:
                lag = max(0, origin.received_at - occurred_at) / _MICROS
                histogram = self.event_lag.get(topic)
                if histogram is None:
                    histogram = self.event_lag[topic] = Histogram(LAG_BUCKETS)
                histogram.observe(lag)

    def observe_send(self, seconds: float) -> None:
        """Publishing the records one input gave (none: not observed) took ``seconds``."""
        self.send.observe(seconds)


def output_type(record: bytes) -> str:
    """The ``type`` of an output record, read without parsing it when it is a known type."""
    start = record.find(_TYPE_KEY, 0, _TYPE_SEARCH)
    if start >= 0:
        start += len(_TYPE_KEY)
        name = _TYPE_NAMES.get(record[start : record.find(b'"', start)])
        if name is not None:
            return name
    try:
        obj = orjson.loads(record)
    except orjson.JSONDecodeError:
        return UNKNOWN
    found = obj.get("type") if isinstance(obj, dict) else None
    return found if isinstance(found, str) and found else UNKNOWN


def occurred_at_of(
    value: bytes, headers: Sequence[tuple[str, bytes | None]] | None = None
) -> int | None:
    """The ``occurred_at`` (microseconds) of an accepted input record; None when not found.

    The plain envelope and a structured CloudEvent's data carry it in the JSON (found without
    parsing when the key occurs exactly once), a binary CloudEvent in its ``ce_time`` header.
    """
    text: object = None
    if headers:
        for name, raw in headers:
            if name.lower() == "ce_time" and raw is not None:
                text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
                break
    if text is None:
        start = value.find(_OCCURRED_AT_KEY)
        if start >= 0 and value.find(_OCCURRED_AT_KEY, start + 1) < 0:
            start += len(_OCCURRED_AT_KEY)
            text = value[start : value.find(b'"', start)].decode("utf-8", "replace")
        else:
            text = _occurred_at_parsed(value)
    if type(text) is not str:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is not None and moment.tzinfo is not None:
        return int(moment.timestamp() * _MICROS)
    try:
        return timestamp_micros(text)  # lower-case t or z, which fromisoformat refuses
    except ValueError:
        return None


def _occurred_at_parsed(value: bytes) -> object:
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is dict and "specversion" in obj and type(obj.get("data")) is dict:
        obj = obj["data"]
    return obj.get("occurred_at") if type(obj) is dict else None


class _Collector:
    """Turns a ``Metrics``' numbers into metric families at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterator[Metric]:
        # Lets the registry refuse a second Metrics on the same registry (duplicate names).
        yield from self._families(with_samples=False)

    def collect(self) -> Iterator[Metric]:
        yield from self._families(with_samples=True)

    def _families(self, *, with_samples: bool) -> Iterator[Metric]:
        m = self.metrics
        yield _counter("inputs", "Input records read.", "topic", m.inputs if with_samples else {})
        yield _counter(
            "dead_letters",
            "Input records refused and written to sla.dlq.",
            "topic",
            m.dead_letters if with_samples else {},
        )
        yield _counter(
            "outputs",
            "Output events produced (an event written to two topics counts once).",
            "type",
            m.outputs if with_samples else {},
        )
        process = HistogramMetricFamily(
            PREFIX + "process_seconds",
            "Time to process one input record: decode, engine, encode (not the Kafka send).",
        )
        send = HistogramMetricFamily(
            PREFIX + "send_seconds",
            "Time to publish the records of one input record (its outputs or its dead letter).",
        )
        lag = HistogramMetricFamily(
            PREFIX + "event_lag_seconds",
            "Wall clock when an accepted input was read minus its occurred_at (0 if ahead).",
            labels=["topic"],
        )
        if with_samples:
            for family, histogram in ((process, m.process), (send, m.send)):
                buckets, total = histogram.cumulative()
                family.add_metric([], buckets, total)
            for topic, histogram in list(m.event_lag.items()):
                buckets, total = histogram.cumulative()
                lag.add_metric([topic], buckets, total)
        yield process
        yield send
        yield lag


def _counter(name: str, doc: str, label: str, counts: Mapping[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(PREFIX + name, doc, labels=[label])
    for value, count in list(counts.items()):  # list(): one copy under the GIL
        family.add_metric([value], count)
    return family
