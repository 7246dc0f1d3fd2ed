"""The codec: bytes and JSON lines <-> engine events, deterministic output ids, dead letters."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from leadsla.codec import (
    InvalidEvent,
    decode_envelope_fast,
    decode_envelope_validated,
    decode_input,
    decode_line,
    decode_output,
    encode_dlq,
    encode_input,
)
from leadsla.domain.events import (
    ActivityLogged,
    BreachResolved,
    InputEvent,
    LeadCreated,
    LeadUpdated,
    OwnerAssigned,
    StatusChanged,
)
from leadsla.domain.instant import format_utc, parse_rfc3339
from leadsla.schemas.dlq import DeadLetter
from leadsla.schemas.inputs import INPUT_TYPES

AT_TEXT = "2026-03-02T09:15:00.250+01:00"
AT = parse_rfc3339(AT_TEXT)

# (wire data, the engine event it means), minimal and full, for every input type.
SAMPLES: dict[str, list[tuple[dict[str, Any], InputEvent]]] = {
    "lead.created": [
        (
            {"source": "pricing_page"},
            LeadCreated("evt-1", "lead-1", AT, "pricing_page"),
        ),
        (
            {
                "source": "demo_request",
                "priority": "urgent",
                "intent": "high",
                "category": "complaint",
                "customer_status": "existing_customer",
                "consent": "unclear",
                "account_id": "acc-42",
                "display_name": "Ada Lovelace",
                "utm_campaign": "spring",
            },
            LeadCreated(
                "evt-1",
                "lead-1",
                AT,
                "demo_request",
                "urgent",
                "high",
                "complaint",
                "existing_customer",
                "unclear",
                "acc-42",
                "Ada Lovelace",
            ),
        ),
    ],
    "lead.updated": [
        ({"consent": "granted"}, LeadUpdated("evt-1", "lead-1", AT, consent="granted")),
        (
            {
                "priority": "low",
                "intent": "normal",
                "category": "support_issue",
                "customer_status": "new",
                "consent": "declined",
            },
            LeadUpdated("evt-1", "lead-1", AT, "low", "normal", "support_issue", "new", "declined"),
        ),
    ],
    "lead.owner_assigned": [
        ({"owner_id": "rep-17"}, OwnerAssigned("evt-1", "lead-1", AT, "rep-17")),
        (
            {
                "owner_id": "queue-emea",
                "owner_kind": "queue",
                "backup_owner_id": "rep-3",
                "manager_id": "mgr-1",
            },
            OwnerAssigned("evt-1", "lead-1", AT, "queue-emea", "queue", "rep-3", "mgr-1"),
        ),
    ],
    "lead.activity_logged": [
        (
            {"actor_id": "rep-17", "actor_kind": "person", "kind": "call"},
            ActivityLogged("evt-1", "lead-1", AT, "rep-17", "person", "call"),
        ),
        (
            {
                "actor_id": "bot-1",
                "actor_kind": "automation",
                "kind": "autoresponder",
                "direction": "internal",
                "next_step": "wait",
                "auto_submitted": True,
                "sequence_id": "seq-9",
            },
            ActivityLogged(
                "evt-1",
                "lead-1",
                AT,
                "bot-1",
                "automation",
                "autoresponder",
                "internal",
                "wait",
                True,
                "seq-9",
            ),
        ),
    ],
    "lead.status_changed": [
        ({"status": "spam"}, StatusChanged("evt-1", "lead-1", AT, "spam")),
        (
            {"status": "reopened", "reason": "customer wrote back"},
            StatusChanged("evt-1", "lead-1", AT, "reopened", "customer wrote back"),
        ),
    ],
    "lead.breach_resolved": [
        (
            {"resolved_by": "mgr-1", "resolution_note": "rep was off sick"},
            BreachResolved("evt-1", "lead-1", AT, "mgr-1", "rep was off sick"),
        ),
        (
            {"resolved_by": "mgr-1", "resolution_note": "holiday", "reason_code": "staffing"},
            BreachResolved("evt-1", "lead-1", AT, "mgr-1", "holiday", "staffing"),
        ),
    ],
}

ALL_SAMPLES = [
    pytest.param(type_, data, expected, id=f"{type_}-{i}")
    for type_, pairs in SAMPLES.items()
    for i, (data, expected) in enumerate(pairs)
]


def envelope(type_: str, data: dict[str, Any], **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "evt-1",
        "type": type_,
        "lead_id": "lead-1",
        "occurred_at": AT_TEXT,
        "data": copy.deepcopy(data),
    }
    event.update(fields)
    return event


def reason(value: bytes | str, **kwargs: Any) -> str:
    with pytest.raises(InvalidEvent) as caught:
        if kwargs:
            decode_input(value if isinstance(value, bytes) else value.encode(), **kwargs)
        else:
            decode_line(value)
    return caught.value.reason


# --------------------------------------------------------------------------------------------
# Decoding the plain envelope
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("type_", "data", "expected"), ALL_SAMPLES)
def test_every_input_type_decodes_to_its_engine_event(
    type_: str, data: dict[str, Any], expected: InputEvent
) -> None:
    line = orjson.dumps(envelope(type_, data))

    assert decode_line(line) == expected
    assert decode_line(line.decode()) == expected
    assert decode_input(line) == expected
    assert decode_input(line, headers={"traceparent": b"00-abc"}, key=b"lead-1") == expected


def test_times_become_microseconds_since_the_epoch() -> None:
    event = decode_line(orjson.dumps(envelope("lead.created", {"source": "x"})))

    assert event.occurred_at == 1_772_439_300_250_000
    assert format_utc(event.occurred_at) == "2026-03-02T08:15:00.250000Z"


def test_surrounding_whitespace_is_fine() -> None:
    line = b"  " + orjson.dumps(envelope("lead.created", {"source": "x"})) + b"\r\n"

    assert decode_line(line).event_id == "evt-1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"\xff\xfe{}", "not UTF-8: byte 0xff at position 0"),
        (b"", "empty: no JSON in the record"),
        (b"   \n", "empty: no JSON in the record"),
        ("", "empty line"),
        (b"{", "not valid JSON: "),
        (b"{'event_id': 1}", "not valid JSON: "),
        (b"NaN", "not valid JSON: "),
        (b"[1, 2]", "not a JSON object: the event is an array"),
        (b'"lead.created"', "not a JSON object: the event is a string"),
        (b"null", "not a JSON object: the event is null"),
        (b"42", "not a JSON object: the event is a number"),
    ],
)
def test_what_is_not_a_json_object_is_refused_with_a_reason(
    value: bytes | str, expected: str
) -> None:
    assert reason(value).startswith(expected)


def test_field_errors_name_the_field_path() -> None:
    line = orjson.dumps(envelope("lead.owner_assigned", {"owner_kind": "queue"}))

    assert reason(line) == "data.owner_id: Field required"


def test_a_naive_timestamp_is_refused() -> None:
    line = orjson.dumps(envelope("lead.created", {"source": "x"}, occurred_at="2026-03-02T09:15"))

    assert reason(line).startswith("occurred_at: timestamp has no UTC offset")


def test_an_unknown_type_is_refused() -> None:
    line = orjson.dumps(envelope("lead.merged", {}))

    assert reason(line).startswith("type: unknown event type 'lead.merged'")


def test_schema_version_2_is_refused() -> None:
    line = orjson.dumps(envelope("lead.created", {"source": "x"}, schema_version=2))

    assert reason(line).startswith("schema_version: unsupported schema_version 2")


def test_the_refusal_carries_the_ids_it_could_read() -> None:
    line = orjson.dumps(envelope("lead.created", {}, event_id="evt-9", lead_id="lead-9"))

    with pytest.raises(InvalidEvent) as caught:
        decode_line(line)

    assert (caught.value.event_id, caught.value.lead_id) == ("evt-9", "lead-9")
    assert str(caught.value) == caught.value.reason


def test_a_null_record_is_refused() -> None:
    with pytest.raises(InvalidEvent, match="null"):
        decode_input(None)


# --------------------------------------------------------------------------------------------
# CloudEvents
# --------------------------------------------------------------------------------------------


def cloudevent(envelope_: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "ce-77",
        "source": "/crm/acme",
        "type": "com.acme.lead",
        "datacontenttype": "application/json",
        "data": envelope_,
    }


def binary_headers(type_: str, **extra: bytes) -> dict[str, bytes]:
    return {
        "ce_specversion": b"1.0",
        "ce_id": b"evt-1",
        "ce_type": type_.encode(),
        "ce_source": b"/crm/acme",
        "ce_time": AT_TEXT.encode(),
        "content-type": b"application/json",
        **extra,
    }


@pytest.mark.parametrize(("type_", "data", "expected"), ALL_SAMPLES)
def test_a_structured_cloudevent_decodes_like_the_plain_envelope(
    type_: str, data: dict[str, Any], expected: InputEvent
) -> None:
    value = orjson.dumps(cloudevent(envelope(type_, data)))
    content_type = {"content-type": b"application/cloudevents+json; charset=UTF-8"}

    assert decode_input(value, headers=content_type) == expected
    assert decode_input(value) == expected  # recognised by specversion alone
    assert decode_line(value) == expected


def test_a_structured_cloudevent_by_header_alone_needs_no_specversion() -> None:
    value = orjson.dumps({"data": envelope("lead.created", {"source": "x"})})

    event = decode_input(value, headers=[("Content-Type", b"application/cloudevents+json")])

    assert event == LeadCreated("evt-1", "lead-1", AT, "x")


def test_a_structured_cloudevent_may_carry_data_base64() -> None:
    inner = orjson.dumps(envelope("lead.created", {"source": "x"}))
    value = orjson.dumps({"specversion": "1.0", "data_base64": base64.b64encode(inner).decode()})

    assert decode_line(value) == LeadCreated("evt-1", "lead-1", AT, "x")


@pytest.mark.parametrize(
    ("ce", "expected"),
    [
        ({"specversion": "1.0", "id": "x"}, "CloudEvent without data"),
        ({"specversion": "1.0", "data": "text"}, "CloudEvent data must be the lead-sla envelope"),
        ({"specversion": "1.0", "data_base64": "%%%"}, "CloudEvent data_base64: not base64"),
        ({"specversion": "1.0", "data_base64": 5}, "CloudEvent data_base64: must be"),
        (
            {"specversion": "1.0", "data": envelope("lead.created", {})},
            "in CloudEvent data: data.source: Field required",
        ),
    ],
)
def test_a_bad_structured_cloudevent_is_refused(ce: dict[str, Any], expected: str) -> None:
    assert reason(orjson.dumps(ce)).startswith(expected)


def test_cloudevents_batch_mode_is_refused() -> None:
    value = orjson.dumps([cloudevent(envelope("lead.created", {"source": "x"}))])

    assert "batch" in reason(value, headers={"content-type": b"application/cloudevents-batch+json"})


@pytest.mark.parametrize(("type_", "data", "expected"), ALL_SAMPLES)
def test_a_binary_cloudevent_decodes_like_the_plain_envelope(
    type_: str, data: dict[str, Any], expected: InputEvent
) -> None:
    value = orjson.dumps(data)

    assert decode_input(value, headers=binary_headers(type_), key=b"lead-1") == expected
    as_pairs = list(binary_headers(type_).items())
    assert decode_input(value, headers=as_pairs, key=b"lead-1") == expected


def test_a_binary_cloudevent_may_give_the_schema_version() -> None:
    headers = binary_headers("lead.created", ce_schemaversion=b"2")

    problem = reason(b'{"source": "x"}', headers=headers, key=b"lead-1")

    assert problem.startswith("ce_schemaversion header: unsupported schema_version 2")


@pytest.mark.parametrize(
    ("headers", "key", "value", "expected"),
    [
        (binary_headers("lead.created"), None, b'{"source":"x"}', "Kafka key (lead_id): Field"),
        (binary_headers("lead.created"), b"", b'{"source":"x"}', "Kafka key (lead_id): Field"),
        (binary_headers("lead.created"), b"\xff", b'{"source":"x"}', "Kafka key (lead_id) is not"),
        (
            {k: v for k, v in binary_headers("lead.created").items() if k != "ce_time"},
            b"lead-1",
            b'{"source":"x"}',
            "ce_time header: Field required",
        ),
        (
            binary_headers("lead.created", ce_time=b"2026-03-02T09:15:00"),
            b"lead-1",
            b'{"source":"x"}',
            "ce_time header: timestamp has no UTC offset",
        ),
        (
            binary_headers("lead.renamed"),
            b"lead-1",
            b'{"source":"x"}',
            "ce_type header: unknown event type 'lead.renamed'",
        ),
        (
            binary_headers("lead.created", ce_specversion=b"2.0"),
            b"lead-1",
            b'{"source":"x"}',
            "unsupported CloudEvents ce_specversion '2.0'",
        ),
        (binary_headers("lead.created"), b"lead-1", b"{}", "data.source: Field required"),
        (binary_headers("lead.created"), b"lead-1", b"[]", "not a JSON object"),
        (binary_headers("lead.created", ce_id=b"\xff"), b"lead-1", b"{}", "ce_id header is not"),
    ],
)
def test_a_bad_binary_cloudevent_is_refused_naming_the_header(
    headers: dict[str, bytes], key: bytes | None, value: bytes, expected: str
) -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode_input(value, headers=headers, key=key)

    assert caught.value.reason.startswith(expected), caught.value.reason


# --------------------------------------------------------------------------------------------
# The fast path and the pydantic path agree
# --------------------------------------------------------------------------------------------

JUNK: list[Any] = [
    None,
    "",
    " ",
    "x",
    "x" * 128,
    "x" * 129,
    0,
    1,
    2,
    -1,
    1.0,
    1.5,
    True,
    False,
    [],
    ["x"],
    {},
    {"a": 1},
    "normal",
    "urgent",
    "high",
    "person",
    "queue",
    "automation",
    "outbound",
    "inbound",
    "closed",
    "granted",
    "declined",
    "existing_customer",
    "support_issue",
    "lead.created",
    "lead.updated",
    "2026-03-02T09:15:00Z",
]

TIMESTAMPS = [
    "2026-03-02T09:15:00Z",
    "2026-03-02T09:15:00z",
    "2026-03-02t09:15:00Z",
    "2026-03-02 09:15:00+05:45",
    "2026-03-02T09:15:00.1Z",
    "2026-03-02T09:15:00.123456789-08:00",
    "2026-03-02T09:15:00.Z",
    "2026-03-02T09:15:00.1234567890Z",
    "2026-03-02T09:15:00",
    "2026-03-02T09:15:00.5",
    "2026-03-02T09:15Z",
    "2026-03-02",
    "2026-03-02T09:15:00+01",
    "2026-03-02T09:15:00+0100",
    "2026-03-02T09:15:00+23:59",
    "2026-03-02T09:15:00+24:00",
    "2026-03-02T09:15:00-00:00",
    "2026-03-02T09:15:60Z",
    "2026-03-02T23:59:59Z",
    "2026-02-29T09:15:00Z",
    "2024-02-29T09:15:00Z",
    "2026-13-02T09:15:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "+2026-03-02T09:15:00Z",
    "2026-03-02T09:15:00Z ",
    "2026-03-02T09:15:00Z\n",
    "\uff12\uff10\uff12\uff16-03-02T09:15:00Z",
    "2026-03-02T09:15:00\u00a0Z",
]

DATA_FIELDS: dict[str, tuple[str, ...]] = {
    "lead.created": (
        "source",
        "priority",
        "intent",
        "category",
        "customer_status",
        "consent",
        "account_id",
        "display_name",
    ),
    "lead.updated": ("priority", "intent", "category", "customer_status", "consent"),
    "lead.owner_assigned": ("owner_id", "owner_kind", "backup_owner_id", "manager_id"),
    "lead.activity_logged": (
        "actor_id",
        "actor_kind",
        "kind",
        "direction",
        "next_step",
        "auto_submitted",
        "sequence_id",
    ),
    "lead.status_changed": ("status", "reason"),
    "lead.breach_resolved": ("resolved_by", "resolution_note", "reason_code"),
}


def corpus() -> Iterator[dict[str, Any]]:
    """Good events and every single-field mutation of them."""
    for type_, pairs in SAMPLES.items():
        for data, _ in pairs:
            base = envelope(type_, data)
            yield base
            for key in ("event_id", "type", "lead_id", "occurred_at", "data", "schema_version"):
                yield {k: v for k, v in base.items() if k != key}
                for junk in JUNK:
                    yield {**base, key: junk}
            for text in TIMESTAMPS:
                yield {**base, "occurred_at": text}
            for field in DATA_FIELDS[type_]:
                yield {**base, "data": {k: v for k, v in data.items() if k != field}}
                for junk in JUNK:
                    yield {**base, "data": {**data, field: junk}}
    for type_ in INPUT_TYPES:
        yield envelope(type_, {})


def agree(env: dict[str, Any]) -> tuple[bool, InputEvent | None]:
    fast = decode_envelope_fast(copy.deepcopy(env))
    try:
        slow: InputEvent | None = decode_envelope_validated(copy.deepcopy(env))
    except InvalidEvent:
        slow = None
    return fast == slow, slow


def test_the_corpus_has_good_and_bad_events() -> None:
    outcomes = [agree(env)[1] is not None for env in corpus()]

    assert sum(outcomes) > 300
    assert len(outcomes) - sum(outcomes) > 1000


def test_fast_and_pydantic_paths_accept_and_refuse_the_same_events() -> None:
    disagreements = [env for env in corpus() if not agree(env)[0]]

    assert not disagreements, (
        f"{len(disagreements)} events where the fast path and the pydantic path disagree, "
        f"e.g. {disagreements[:5]!r}"
    )


def _field_values(type_: str) -> dict[str, list[Any]]:
    values: dict[str, list[Any]] = {}
    for data, _ in SAMPLES[type_]:
        for name, value in data.items():
            values.setdefault(name, []).append(value)
    return values


@st.composite
def fuzzed_envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """A good event with one to three fields replaced, removed or added: where paths drift."""
    type_ = draw(st.sampled_from(INPUT_TYPES))
    data, _ = draw(st.sampled_from(SAMPLES[type_]))
    env = envelope(type_, data)
    for _ in range(draw(st.integers(1, 3))):
        in_data = draw(st.booleans())
        target = env["data"] if in_data and type(env.get("data")) is dict else env
        names = DATA_FIELDS[type_] if target is not env else (*env, "schema_version")
        name = draw(st.sampled_from(names))
        choices = [*JUNK, *TIMESTAMPS, *_field_values(type_).get(name, [])]
        if draw(st.integers(0, 4)) == 0:
            target.pop(name, None)
        else:
            target[name] = draw(st.sampled_from(choices))
    return env


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fuzzed_envelopes())
def test_fast_and_pydantic_paths_agree_on_fuzzed_events(env: dict[str, Any]) -> None:
    same, _ = agree(env)

    assert same, env


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_is_decoded_or_refused_with_a_reason(value: Any) -> None:
    try:
        decode_line(json.dumps(value))
    except InvalidEvent as exc:
        assert exc.reason


# --------------------------------------------------------------------------------------------
# Encoding inputs (simulate): a round trip
# --------------------------------------------------------------------------------------------

ids = st.text(min_size=1, max_size=128)
texts = st.text(max_size=20)
instants = st.integers(min_value=-2_208_988_800_000_000, max_value=4_102_444_800_000_000)

engine_events = st.one_of(
    st.builds(
        LeadCreated,
        ids,
        ids,
        instants,
        ids,
        st.sampled_from(["urgent", "high", "normal", "low"]),
        st.none() | st.sampled_from(["high", "normal", "low"]),
        st.sampled_from(["inquiry", "complaint", "support_issue"]),
        st.sampled_from(["new", "existing_customer"]),
        st.sampled_from(["granted", "unclear", "declined"]),
        st.none() | ids,
        st.none() | texts,
    ),
    st.builds(
        LeadUpdated,
        ids,
        ids,
        instants,
        st.none() | st.just("high"),
        st.none() | st.just("low"),
        st.none() | st.just("complaint"),
        st.none() | st.just("new"),
        st.none() | st.just("unclear"),
    ),
    st.builds(
        OwnerAssigned,
        ids,
        ids,
        instants,
        ids,
        st.sampled_from(["person", "queue"]),
        st.none() | ids,
        st.none() | ids,
    ),
    st.builds(
        ActivityLogged,
        ids,
        ids,
        instants,
        ids,
        st.sampled_from(["person", "automation"]),
        ids,
        st.sampled_from(["outbound", "inbound", "internal"]),
        st.none() | texts,
        st.booleans(),
        st.none() | ids,
    ),
    st.builds(
        StatusChanged, ids, ids, instants, st.sampled_from(["spam", "closed"]), st.none() | texts
    ),
    st.builds(BreachResolved, ids, ids, instants, ids, ids, st.none() | ids),
)


@settings(max_examples=200, deadline=None)
@given(engine_events)
def test_encode_input_round_trips_through_decode_line(event: InputEvent) -> None:
    if isinstance(event, LeadUpdated):
        assume(any(getattr(event, f) is not None for f in DATA_FIELDS["lead.updated"]))

    line = encode_input(event)

    assert decode_line(line) == event
    assert decode_envelope_validated(orjson.loads(line)) == event


# --------------------------------------------------------------------------------------------
# Decoding outputs (encoding them: test_output_codec.py)
# --------------------------------------------------------------------------------------------

DUE = parse_rfc3339("2026-03-02T09:15:00Z")


def test_decode_output_refuses_what_is_not_an_object() -> None:
    with pytest.raises(InvalidEvent):
        decode_output(b"[]")
    with pytest.raises(InvalidEvent):
        decode_output(b"{")


# --------------------------------------------------------------------------------------------
# Dead letters
# --------------------------------------------------------------------------------------------


def test_a_dead_letter_keeps_the_original_bytes_and_where_they_came_from() -> None:
    original = b'{"event_id": "evt-9", "lead_id": "lead-9", "type": "lead.nope"}'

    value = encode_dlq(
        original,
        topic="leads.activity",
        partition=2,
        offset=41,
        reason="type: unknown event type 'lead.nope'",
        received_at=DUE,
        key=b"lead-9",
        headers=[("traceparent", b"00-abc"), ("empty", None)],
    )

    letter = DeadLetter.model_validate(orjson.loads(value))
    assert base64.b64decode(letter.original_base64) == original
    assert letter.key_base64 is not None and base64.b64decode(letter.key_base64) == b"lead-9"
    assert [(h.key, h.value_base64) for h in letter.headers] == [
        ("traceparent", base64.b64encode(b"00-abc").decode()),
        ("empty", None),
    ]
    assert (letter.topic, letter.partition, letter.offset) == ("leads.activity", 2, 41)
    assert letter.received_at == "2026-03-02T09:15:00Z"
    assert (letter.event_id, letter.lead_id) == ("evt-9", "lead-9")


@pytest.mark.parametrize(
    ("original", "headers", "key", "ids"),
    [
        (b"\xff\x00", None, None, (None, None)),
        (b"\xff\x00", {"ce_id": b"evt-3"}, b"lead-3", ("evt-3", "lead-3")),
        (b'{"event_id": 5, "lead_id": ""}', None, b"lead-4", (None, "lead-4")),
        (
            orjson.dumps(cloudevent({"event_id": "evt-5", "lead_id": "lead-5"})),
            None,
            None,
            ("evt-5", "lead-5"),
        ),
        (None, None, None, (None, None)),
    ],
)
def test_a_dead_letter_reads_the_ids_when_it_can(
    original: bytes | None,
    headers: dict[str, bytes] | None,
    key: bytes | None,
    ids: tuple[str | None, str | None],
) -> None:
    value = encode_dlq(
        original,
        topic="t",
        partition=0,
        offset=0,
        reason="r",
        received_at=0,
        headers=headers,
        key=key,
    )

    letter = DeadLetter.model_validate(orjson.loads(value))
    assert (letter.event_id, letter.lead_id) == ids


def test_ids_given_to_a_dead_letter_win() -> None:
    value = encode_dlq(
        b'{"event_id": "evt-1", "lead_id": "lead-1"}',
        topic="t",
        partition=0,
        offset=0,
        reason="held event whose lead.created never came",
        received_at=0,
        event_id="evt-x",
        lead_id="lead-x",
    )

    assert orjson.loads(value)["event_id"] == "evt-x"
    assert orjson.loads(value)["lead_id"] == "lead-x"


def test_an_invalid_event_becomes_a_dead_letter_with_its_reason() -> None:
    original = orjson.dumps(envelope("lead.owner_assigned", {}))
    with pytest.raises(InvalidEvent) as caught:
        decode_input(original)
    problem = caught.value

    value = encode_dlq(
        original,
        topic="leads.ownership",
        partition=0,
        offset=7,
        reason=problem.reason,
        received_at=DUE,
        event_id=problem.event_id,
        lead_id=problem.lead_id,
    )

    assert orjson.loads(value)["reason"] == "data.owner_id: Field required"
    assert orjson.loads(value)["event_id"] == "evt-1"
