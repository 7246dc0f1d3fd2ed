"""The one codec: Kafka bytes and JSON lines <-> the engine's events, and outputs -> bytes.

This is the boundary between the two type systems (ARCHITECTURE.md): pydantic models of the
wire contract (``leadsla.schemas``) on one side, the engine's records (``leadsla.domain.events``
in, ``leadsla.domain.outputs`` out) on the other. orjson does all JSON work here. One module per
job:

- :mod:`.cloudevents`: which headers make a record a CloudEvent, and the envelope a structured
  or binary CloudEvent stands for;
- :mod:`.inputs`: decoding and validating inputs (the fast path and the pydantic path);
- :mod:`.outputs`: encoding the engine's output records and their content-derived ids;
- :mod:`.dead_letters`: the ``sla.dlq`` record of a refused input;
- :mod:`.common`: the refusal (:class:`InvalidEvent`), Kafka headers, JSON helpers.

``from leadsla.codec import X`` keeps working for every public name.
"""

from __future__ import annotations

from .cloudevents import (
    CLOUDEVENTS_BATCH_CONTENT_TYPE,
    CLOUDEVENTS_CONTENT_TYPE,
    CLOUDEVENTS_SPECVERSIONS,
)
from .common import MAX_ID_LENGTH, Headers, InvalidEvent
from .dead_letters import (
    DLQ_KEY_MAX_BYTES,
    DLQ_MAX_BYTES,
    DLQ_MIN_BYTES,
    DLQ_REASON_MAX_CHARS,
    dlq_key,
    encode_dlq,
)
from .inputs import (
    decode_envelope,
    decode_envelope_fast,
    decode_envelope_validated,
    decode_input,
    decode_line,
    encode_input,
    route_native,
    timestamp_micros,
    to_domain,
)
from .outputs import (
    LineRecord,
    OutputRecord,
    data_from_wire,
    decode_output,
    encode_lead_lines,
    encode_lead_records,
    encode_output,
    encode_output_record,
    event_id_of,
    fact_from_wire,
    instant_sort_key,
    join_lines,
    lines_size,
    merge_runs,
    output_event_id,
    pack_records,
    record_line,
    sort_records,
    wire_data,
)

__all__ = [
    "CLOUDEVENTS_BATCH_CONTENT_TYPE",
    "CLOUDEVENTS_CONTENT_TYPE",
    "CLOUDEVENTS_SPECVERSIONS",
    "DLQ_KEY_MAX_BYTES",
    "DLQ_MAX_BYTES",
    "DLQ_MIN_BYTES",
    "DLQ_REASON_MAX_CHARS",
    "MAX_ID_LENGTH",
    "Headers",
    "InvalidEvent",
    "LineRecord",
    "OutputRecord",
    "data_from_wire",
    "decode_envelope",
    "decode_envelope_fast",
    "decode_envelope_validated",
    "decode_input",
    "decode_line",
    "decode_output",
    "dlq_key",
    "encode_dlq",
    "encode_input",
    "encode_lead_lines",
    "encode_lead_records",
    "encode_output",
    "encode_output_record",
    "event_id_of",
    "fact_from_wire",
    "instant_sort_key",
    "join_lines",
    "lines_size",
    "merge_runs",
    "output_event_id",
    "pack_records",
    "record_line",
    "route_native",
    "sort_records",
    "timestamp_micros",
    "to_domain",
    "wire_data",
]
