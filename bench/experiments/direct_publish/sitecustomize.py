"""Experiment only (README "Worker benchmarks"): not part of the worker, never installed.

Put this folder on the worker's ``PYTHONPATH`` (``bench_worker.py ... --worker-env
PYTHONPATH=bench/experiments/direct_publish``) and, in that process only, ``Worker.publish``
sends the batch's records through the aiokafka producer directly instead of faust's
``Topic.send`` per record, and faust's producer buffer no longer stalls the stream at 100
pending changelog messages (``ProducerBuffer.max_messages``; that line alone is the
"no stream stall" variant).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, cast

import faust.transport.producer as _producer

import leadsla.streams.app as _app
from leadsla.domain.instant import SECOND
from leadsla.streams.process import OutRecord

_producer.ProducerBuffer.max_messages = 100_000


async def publish(self: _app.Worker, records: Sequence[OutRecord]) -> None:
    """``Worker.publish`` without faust's per-record layers (no retry loop: an experiment)."""
    if not records:
        return
    started = time.perf_counter()
    aio = cast(Any, self.app.producer)._ensure_producer()
    topic = self.settings.topic
    futures = [
        await aio.send(topic(r.topic), r.value, key=r.key, headers=r.headers) for r in records
    ]
    await asyncio.gather(*futures)
    sent = _app.wall_clock()
    self.metrics.observe_send(time.perf_counter() - started)
    for record in records:
        if record.due is not None and record.topic != "sla.facts":
            self.metrics.observe_alert_delay((sent - record.due) / SECOND)


setattr(_app.Worker, "publish", publish)  # noqa: B010
