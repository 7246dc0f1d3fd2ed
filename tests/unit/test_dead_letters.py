"""Dead letters of the bad-record corpus (tests/bad_records.py): refused, kept, always fitting."""

from __future__ import annotations

import base64
import datetime as dt
from hashlib import sha256
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsla.codec import (
    DLQ_KEY_MAX_BYTES,
    DLQ_MAX_BYTES,
    DLQ_MIN_BYTES,
    DLQ_REASON_MAX_CHARS,
    InvalidEvent,
    dead_letters,
    decode_input,
    dlq_key,
    encode_dlq,
)
from leadsla.domain.events import LeadCreated
from leadsla.domain.instant import parse_rfc3339
from leadsla.schemas.dlq import DeadLetter
from tests.bad_records import KAFKA_DEFAULT_MAX_REQUEST, BadRecord, bad_records

NOW = dt.datetime(2026, 3, 2, 9, 15, tzinfo=dt.UTC)
RECEIVED = parse_rfc3339("2026-03-02T09:15:00Z")
CORPUS = bad_records(NOW)
IDS = [record.name for record in CORPUS]


def letter_of(record: BadRecord, reason: str, max_bytes: int = DLQ_MAX_BYTES) -> bytes:
    return encode_dlq(
        record.value,
        topic="p-leads.created",
        partition=1,
        offset=42,
        reason=reason,
        received_at=RECEIVED,
        key=record.key,
        headers=record.headers,
        max_bytes=max_bytes,
    )


def reason_of(record: BadRecord) -> str:
    try:
        decode_input(record.value, record.headers, record.key)
    except InvalidEvent as exc:
        return exc.reason
    return record.why


def test_the_corpus_has_every_kind_of_bad_record() -> None:
    names = set(IDS)
    assert len(names) == len(CORPUS)
    assert {
        "broken-json",
        "binary-garbage",
        "wrong-types",
        "missing-fields",
        "unknown-type",
        "value-900kb",
        "value-over-1mb",
        "null-key",
        "key-differs-from-lead-id",
        "year-9999",
        "two-days-ahead",
        "cloudevent-binary-bad-time",
        "empty-value",
        "json-not-an-object",
        "deeply-nested",
    } <= names
    sizes = {record.name: len(record.value or b"") for record in CORPUS}
    assert 850_000 < sizes["value-900kb"] < 950_000
    assert sizes["value-over-1mb"] > KAFKA_DEFAULT_MAX_REQUEST
    assert [r.name for r in CORPUS if not r.produce] == ["value-over-1mb"]


@pytest.mark.parametrize(
    "record", [r for r in CORPUS if r.refused_by == "decoder"], ids=lambda r: r.name
)
def test_the_decoder_refuses_the_record_with_a_reason(record: BadRecord) -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode_input(record.value, record.headers, record.key)

    assert caught.value.reason.strip()


@pytest.mark.parametrize(
    "record", [r for r in CORPUS if r.refused_by == "worker"], ids=lambda r: r.name
)
def test_the_decoder_accepts_what_only_the_worker_can_refuse(record: BadRecord) -> None:
    # Given a well-formed event that is bad for the live worker only (the clock, the key)
    event = decode_input(record.value, record.headers, record.key)

    # Then it decodes, and the corpus says why the worker must still dead-letter it
    assert isinstance(event, LeadCreated)
    assert record.why


def test_the_decoder_does_not_compare_the_key_with_the_lead_id() -> None:
    # Given a plain envelope whose Kafka key names another lead
    (record,) = [r for r in CORPUS if r.name == "key-differs-from-lead-id"]

    # When it is decoded
    event = decode_input(record.value, record.headers, record.key)

    # Then the decoder keeps the envelope's lead_id: the check is the worker's job
    assert event.lead_id == "bad-key-differs-from-lead-id"
    assert record.key == b"someone-else"


def test_far_future_and_year_9999_are_relative_to_now() -> None:
    by_name = {record.name: record for record in CORPUS}
    ahead = decode_input(by_name["two-days-ahead"].value)
    late = decode_input(by_name["year-9999"].value)

    assert ahead.occurred_at - RECEIVED == 2 * 24 * 3600 * 1_000_000
    assert late.occurred_at == parse_rfc3339("9999-12-31T20:00:00Z")


@pytest.mark.parametrize("record", CORPUS, ids=IDS)
def test_every_bad_record_becomes_a_valid_dead_letter_that_fits(record: BadRecord) -> None:
    # Given a bad record and its reason
    original = record.value or b""

    # When it is dead-lettered
    value = letter_of(record, reason_of(record))

    # Then the letter is a DeadLetter, fits the producer's limit and describes the whole original
    assert len(value) <= DLQ_MAX_BYTES
    letter = DeadLetter.model_validate(orjson.loads(value))
    kept = base64.b64decode(letter.original_base64)
    assert letter.original_length == len(original)
    assert letter.original_sha256 == sha256(original).hexdigest()
    assert (letter.topic, letter.partition, letter.offset) == ("p-leads.created", 1, 42)
    assert letter.reason == reason_of(record)
    if len(original) < 600_000:
        assert kept == original
        assert not letter.original_truncated
        key = None if letter.key_base64 is None else base64.b64decode(letter.key_base64)
        assert key == record.key
        assert [
            (h.key, None if h.value_base64 is None else base64.b64decode(h.value_base64))
            for h in letter.headers
        ] == record.headers
    else:
        assert letter.original_truncated
        assert len(kept) < len(original)
        assert original.startswith(kept)


@pytest.mark.parametrize("max_bytes", [DLQ_MIN_BYTES, 20_000, 250_000])
@pytest.mark.parametrize("record", CORPUS, ids=IDS)
def test_a_smaller_limit_is_kept_too(record: BadRecord, max_bytes: int) -> None:
    value = letter_of(record, reason_of(record), max_bytes)

    assert len(value) <= max_bytes
    letter = DeadLetter.model_validate(orjson.loads(value))
    kept = base64.b64decode(letter.original_base64)
    assert (record.value or b"").startswith(kept)
    assert letter.original_truncated == (kept != (record.value or b""))


def test_an_original_is_kept_whole_up_to_the_last_byte_that_fits() -> None:
    # Given originals around the size where the letter reaches max_bytes
    max_bytes = 10_000
    sizes = range(7_200, 7_600)
    letters = [
        encode_dlq(
            b"x" * size,
            topic="t",
            partition=0,
            offset=0,
            reason="r",
            received_at=RECEIVED,
            max_bytes=max_bytes,
        )
        for size in sizes
    ]

    # Then every letter fits, the whole ones come first, and a cut one wastes under 5 bytes
    decoded = [DeadLetter.model_validate(orjson.loads(value)) for value in letters]
    flags = [letter.original_truncated for letter in decoded]
    assert flags == sorted(flags) and flags[0] is False and flags[-1] is True
    assert all(len(value) <= max_bytes for value in letters)
    for value, letter in zip(letters, decoded, strict=True):
        if letter.original_truncated:
            assert len(value) > max_bytes - 5


def test_a_huge_reason_is_cut_and_says_so() -> None:
    value = encode_dlq(
        b"{}", topic="t", partition=0, offset=0, reason="why " * 100_000, received_at=RECEIVED
    )

    reason = orjson.loads(value)["reason"]
    assert len(reason) <= DLQ_REASON_MAX_CHARS
    assert reason.startswith("why why")
    assert "400000 characters" in reason


def test_a_huge_key_and_headers_are_cut_and_the_letter_marked() -> None:
    # Given a small original with a 1 MB key and 50 headers of 100 KB
    headers = [(f"h{i}", b"v" * 100_000) for i in range(50)]

    # When it is dead-lettered
    value = encode_dlq(
        b'{"x": 1}',
        topic="t",
        partition=0,
        offset=0,
        reason="r",
        received_at=RECEIVED,
        key=b"k" * 1_000_000,
        headers=headers,
    )

    # Then it fits, the value is whole, and the letter says it cannot be re-sent as it came
    assert len(value) <= DLQ_MAX_BYTES
    letter = DeadLetter.model_validate(orjson.loads(value))
    assert base64.b64decode(letter.original_base64) == b'{"x": 1}'
    assert letter.original_truncated
    assert letter.key_base64 is not None
    assert len(base64.b64decode(letter.key_base64)) == DLQ_KEY_MAX_BYTES
    assert 0 < len(letter.headers) < 50
    assert dlq_key(b"k" * 1_000_000) == b"k" * DLQ_KEY_MAX_BYTES
    assert dlq_key(b"lead-1") == b"lead-1"
    assert dlq_key(None) is None


def test_an_over_long_id_is_left_out() -> None:
    value = encode_dlq(
        b"{}",
        topic="t",
        partition=0,
        offset=0,
        reason="r",
        received_at=RECEIVED,
        event_id="e" * 1_000_000,
        lead_id="lead-1",
    )

    assert len(value) < 1_000
    assert orjson.loads(value)["event_id"] is None
    assert orjson.loads(value)["lead_id"] == "lead-1"


def test_a_letter_without_the_new_fields_still_validates() -> None:
    old = orjson.loads(letter_of(CORPUS[0], "r"))
    for name in ("original_length", "original_sha256", "original_truncated"):
        del old[name]

    letter = DeadLetter.model_validate(old)
    assert letter.original_truncated is False and letter.original_length is None


WEIRD_HEADERS = st.lists(
    st.one_of(
        st.tuples(st.text(max_size=20), st.one_of(st.none(), st.binary(max_size=50))),
        st.tuples(st.binary(max_size=10), st.text(max_size=10)),
        st.tuples(st.integers(), st.integers()),
        st.none(),
        st.integers(),
    ),
    max_size=5,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    original=st.one_of(st.none(), st.binary(max_size=20_000)),
    key=st.one_of(st.none(), st.binary(max_size=3_000), st.text(max_size=20)),
    headers=st.one_of(st.none(), WEIRD_HEADERS, st.dictionaries(st.text(), st.binary())),
    reason=st.text(max_size=3_000),
    topic=st.text(max_size=300),
    partition=st.integers(min_value=-(2**70), max_value=2**70),
    received_at=st.integers(min_value=-(2**80), max_value=2**80),
    max_bytes=st.integers(min_value=-10, max_value=30_000),
)
def test_encode_dlq_never_raises_and_always_fits(
    original: bytes | None,
    key: Any,
    headers: Any,
    reason: str,
    topic: str,
    partition: int,
    received_at: int,
    max_bytes: int,
) -> None:
    value = encode_dlq(
        original,
        topic=topic,
        partition=partition,
        offset=7,
        reason=reason,
        received_at=received_at,
        key=key,
        headers=headers,
        max_bytes=max_bytes,
    )

    assert len(value) <= max(max_bytes, DLQ_MIN_BYTES)
    letter = DeadLetter.model_validate(orjson.loads(value))
    assert letter.original_length == len(original or b"")
    assert (original or b"").startswith(base64.b64decode(letter.original_base64))


def test_surrogates_in_texts_are_written_escaped() -> None:
    value = encode_dlq(
        b"x",
        topic="t\udcff",
        partition=0,
        offset=0,
        reason="bad \ud800 text",
        received_at=RECEIVED,
        headers=[("h\udc80", b"v")],
    )

    letter = DeadLetter.model_validate(orjson.loads(value))
    assert letter.reason == "bad \\ud800 text"
    assert letter.topic == "t\\udcff"
    assert letter.headers[0].key == "h\\udc80"


def test_a_bug_in_the_encoder_still_gives_a_letter(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an encoder that fails (a bug not found yet)
    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("boom")

    monkeypatch.setattr(dead_letters, "_encode_dlq", broken)

    # When a record is dead-lettered
    value = encode_dlq(
        b"\x00" * 2_000_000,
        topic="\x00" * 1_000,
        partition=3,
        offset=9,
        reason="\x01" * 10_000,
        received_at=RECEIVED,
        key=b"k",
        max_bytes=0,
    )

    # Then the smallest honest letter comes out: the original's length and hash, and why
    assert len(value) <= DLQ_MIN_BYTES
    letter = DeadLetter.model_validate(orjson.loads(value))
    assert letter.original_truncated and letter.original_base64 == ""
    assert letter.original_length == 2_000_000
    assert letter.original_sha256 == sha256(b"\x00" * 2_000_000).hexdigest()
    assert (letter.partition, letter.offset) == (3, 9)
    assert letter.reason.endswith("(dead letter cut: RuntimeError: boom)")
