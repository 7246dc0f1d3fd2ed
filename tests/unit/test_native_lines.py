"""The C encoder (``leadsla/_lines.c``) writes what the Python loop writes, byte for byte.

Given random output records of every shape (any text, ints up to and beyond 64 bits, floats
whole and not, instants of years 1-9999 and beyond, suppressed or not, contact details shared or
not), when one lead's outputs are encoded by the C encoder and by the Python loop it accelerates
(``outputs._encode_lead_lines``), then both give the same records and counts, or both raise the
same error; an output the C encoder does not know is left to the Python loop untouched.

With the compiled modules only (``make venv``); under ``CI=true`` they must exist.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from hashlib import sha256
from typing import Any, NamedTuple

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadsla
from leadsla.codec import outputs as codec
from leadsla.codec.outputs import (
    LineRecord,
    encode_lead_lines,
    lead_sort_key,
    record_line,
    utc_text,
)
from leadsla.domain.instant import MAX_INSTANT, MIN_INSTANT, format_utc, parse_rfc3339
from leadsla.domain.outputs import ALERT_RECORDS, TIME_FIELDS, Breach, Fact, Output, Timer

if "_lines.c" not in leadsla.native_extensions():
    if os.environ.get("CI") == "true":
        pytest.fail(f"make venv should have built the C encoder: {leadsla.NATIVE}")
    pytest.skip(f"no C encoder here: {leadsla.NATIVE}", allow_module_level=True)

from leadsla import _lines

RECORDS = list(codec._SHAPES)
YEAR_1_TO_9999 = st.integers(MIN_INSTANT, MAX_INSTANT)
TEXT = st.one_of(
    st.text(),
    st.text(st.characters(max_codepoint=127)),
    st.sampled_from(["", "rep-17", 'a "quoted" name', "back\\slash", "tab\t", "\x7f", "é"]),
)
VALUE = st.one_of(
    st.none(),
    st.booleans(),
    TEXT,
    st.integers(-(2**63), 2**64 - 1),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**15), 10**15).map(float),
    st.sampled_from([0.0, -0.0, 1e15, -1e15, 1e16, 15.0, 0.5, 1.5e-7]),
)
TIME = st.one_of(
    st.none(),
    YEAR_1_TO_9999,
    st.sampled_from([MIN_INSTANT, MAX_INSTANT, 0, -1, 1, 999_999, -1_000_000, 1_000_000]),
)


@st.composite
def records(draw: st.DrawFn) -> Any:
    cls = draw(st.sampled_from(RECORDS))
    fields: tuple[str, ...] = cls._fields  # type: ignore[attr-defined]
    values: list[Any] = []
    for name in fields:
        if name in TIME_FIELDS:
            values.append(draw(TIME))
        elif name == "contact_details":
            values.append(draw(st.booleans()))
        else:
            values.append(draw(VALUE))
    return cls(*values)


OUTPUTS = st.lists(
    st.builds(
        Output,
        st.sampled_from(["sla.breached", "sla.measured", "x", "é\x00", ""]),
        st.one_of(YEAR_1_TO_9999, st.sampled_from([MIN_INSTANT, MAX_INSTANT, 0, -1])),
        records(),
        st.booleans(),
    ),
    max_size=6,
)
LEAD = st.one_of(st.text(), st.sampled_from(["lead-1", "L\x00", 'le"ad', "ü"]))


def both(lead_id: str, outputs: list[Any]) -> tuple[Any, Any]:
    """(C encoder's records and counts or error, Python loop's records and counts or error)."""
    done: list[Any] = []
    for native in (True, False):
        into: list[LineRecord] = [b"before"]
        counts: dict[str, int] = {"x": 1}
        parts = (
            orjson.dumps(lead_id),
            f"{len(lead_id)}:{lead_id}".encode(),
            lead_sort_key(lead_id),
        )
        lead_json, lead_prefix, lead_key = parts
        try:
            if native:
                assert _lines.encode_lead(lead_prefix, lead_json, lead_key, outputs, into, counts)
            else:
                codec._encode_lead_lines(lead_prefix, lead_json, lead_key, outputs, into, counts)
        except Exception as exc:
            done.append((type(exc), str(exc)))
            continue
        done.append((into, counts))
    return done[0], done[1]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LEAD, OUTPUTS)
def test_the_c_encoder_writes_what_the_python_loop_writes(lead_id: str, outputs: Any) -> None:
    native, python = both(lead_id, outputs)

    assert native == python


@settings(max_examples=200, deadline=None)
@given(LEAD, OUTPUTS)
def test_with_hashlib_too(lead_id: str, outputs: Any) -> None:
    before = _lines.hash_backend()
    _lines.hash_backend("hashlib")
    try:
        native, python = both(lead_id, outputs)
    finally:
        _lines.hash_backend(before)

    assert native == python


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(LEAD, OUTPUTS), max_size=4))
def test_lines_are_read_back_out_of_records_as_python_reads_them(
    leads: list[tuple[str, Any]],
) -> None:
    records: list[LineRecord] = []
    for lead_id, outputs in leads:
        with contextlib.suppress(TypeError, orjson.JSONEncodeError):
            encode_lead_lines(lead_id, outputs, records, {})

    joined = _lines.join_lines(records)
    assert joined == codec._join_lines(records)
    assert _lines.lines_size(records) == codec._lines_size(records) == len(joined)
    assert joined.split(b"\n")[:-1] == [record_line(record) for record in records]


# Records as the sort sees them: 8 key bytes from a few instants (ties and all bytes), the rest
# any bytes, so that records share prefixes, one is the prefix of another, or they are equal.
_KEY_BYTE = st.sampled_from([0, 1, 0x7F, 0x80, 0xFF])
_SORTABLE = st.builds(
    lambda head, tail: bytes(head) + tail,
    st.lists(_KEY_BYTE, min_size=8, max_size=8),
    st.binary(max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_SORTABLE, max_size=300))
def test_sort_records_sorts_as_list_sort_does(records: list[bytes]) -> None:
    ours = list(records)
    assert _lines.sort_records(ours) is True
    assert ours == sorted(records)
    # and keeps the very objects
    assert sorted(map(id, ours)) == sorted(map(id, records))


def test_sort_records_leaves_what_is_not_a_record_to_list_sort() -> None:
    odds: list[list[Any]] = [[b"12345678", b"1234567"], [b"12345678", "12345678"], [b"12345678", 1]]
    for odd in odds:
        before = list(odd)
        assert _lines.sort_records(odd) is False
        assert odd == before
    many = [(n * 7919 % 10007).to_bytes(8, "big") + b"x" for n in range(10007)]
    records = list(many)
    codec.sort_records(records)
    assert records == sorted(many)
    with pytest.raises(TypeError):
        _lines.sort_records(tuple(many))  # type: ignore[arg-type]


@pytest.mark.parametrize("record", [b"", b"12345678", b"12345678a\x00\x00b\x00", 7])
def test_what_is_not_a_record_is_refused_by_both(record: Any) -> None:
    for native, python in (
        (_lines.join_lines, codec._join_lines),
        (_lines.lines_size, codec._lines_size),
    ):
        with pytest.raises((TypeError, ValueError)) as c_error:
            native([record])
        with pytest.raises((TypeError, ValueError)) as py_error:
            python([record])
        assert c_error.type is py_error.type


def test_sha256_comes_from_libcrypto_where_there_is_openssl_3() -> None:
    # Without it (an older OpenSSL) the C encoder calls hashlib: slower, the same digests.
    try:
        ctypes.CDLL("libcrypto.so.3")
    except OSError:
        pytest.skip("no OpenSSL 3 (libcrypto.so.3) here")
    assert _lines.hash_backend() == "libcrypto"


@settings(max_examples=2000)
@given(
    st.one_of(
        YEAR_1_TO_9999, st.sampled_from([MIN_INSTANT, MAX_INSTANT, 0, -1, 951_868_800 * 10**6])
    )
)
def test_utc_text_is_format_utc_s_over_years_1_to_9999(instant: int) -> None:
    assert _lines.utc(instant) == format_utc(instant) == utc_text(instant)


def test_the_edges_of_the_years() -> None:
    assert _lines.utc(MIN_INSTANT) == "0001-01-01T00:00:00Z"
    assert _lines.utc(MAX_INSTANT) == "9999-12-31T23:59:59.999999Z"
    assert _lines.utc(-1) == "1969-12-31T23:59:59.999999Z"
    for outside in (MIN_INSTANT - 1, MAX_INSTANT + 1):
        with pytest.raises(ValueError, match="years 1-9999"):
            _lines.utc(outside)


class Other(NamedTuple):
    """A record class the encoder was not configured with."""

    note: str


TIMER = Timer("rep-1", None, "mgr-1", 10, 5, 15.0, "calendar", "web", "high")


@pytest.mark.parametrize(
    "output",
    [
        Output("sla.timer_started", 1, Other("n")),  # type: ignore[arg-type]
        Output("sla.timer_started", MAX_INSTANT + 1, TIMER),
        Output("sla.timer_started", 1.5, TIMER),  # type: ignore[arg-type]
        Output("sla.timer_started", 1, TIMER, 1),  # type: ignore[arg-type]
        Output(7, 1, TIMER),  # type: ignore[arg-type]
        Output("sla.timer_started", 1, (*TIMER,)),  # type: ignore[arg-type]
        ("sla.timer_started", 1, TIMER),
    ],
)
def test_an_output_it_does_not_know_is_left_to_python_untouched(output: Any) -> None:
    into: list[LineRecord] = []
    counts: dict[str, int] = {}

    good = Output("sla.timer_started", 1, TIMER)
    assert not _lines.encode_lead(b"1:a", b'"a"', b"a\x00\x00", [good, output], into, counts)
    assert into == []
    assert counts == {}


def test_encode_lead_lines_uses_it_and_falls_back_for_the_rest() -> None:
    other = Output("sla.timer_started", 1, Other("n"))  # type: ignore[arg-type]
    good = Output("sla.timer_started", 1, TIMER)
    into: list[LineRecord] = []

    encode_lead_lines("a", [good], into, {})
    with pytest.raises(KeyError):  # the Python loop's: no shape for Other
        encode_lead_lines("a", [other], into, {})
    assert len(into) == 1


def test_every_shape_is_configured_with_its_sorted_keys() -> None:
    shapes = {cls: entries for cls, _, entries, _ in codec.native_shapes()}

    assert set(shapes) == set(RECORDS)
    for cls, entries in shapes.items():
        keys = [orjson.loads(key[:-1]) for key, _, _ in entries]
        assert keys == sorted(keys)
        assert ("suppressed" in keys) == (cls in ALERT_RECORDS or cls.__name__ == "Retraction")
        assert ("display_name" in keys) == (cls in ALERT_RECORDS)
    fact = [orjson.loads(key[:-1]) for key, _, _ in shapes[Fact]]
    assert fact == sorted(Fact._fields)


def test_a_known_line_and_its_id() -> None:
    # The pinned id of test_output_codec.py, through the C encoder.
    due = parse_rfc3339("2026-03-02T09:15:00Z")
    created = parse_rfc3339("2026-03-02T08:15:00Z")
    breach = Breach(
        *("pricing_page", "high", created, "rep-17", due, "rep-3", "mgr-1", "owner_no_action"),
        *(True, False, "Ada Lovelace", False),
    )
    into: list[LineRecord] = []
    lead = (b"6:lead-1", b'"lead-1"', lead_sort_key("lead-1"))
    assert _lines.encode_lead(*lead, [Output("sla.breached", due, breach)], into, {})

    line = orjson.loads(record_line(into[0]))
    assert line["event_id"] == "38245458b65577a5c8ccecc5072b336a"
    wire = {k: v for k, v in line["data"].items() if k != "suppressed"}
    content = orjson.dumps(wire, option=orjson.OPT_SORT_KEYS)
    prefix = b"6:lead-112:sla.breached%d\x00" % due
    assert sha256(prefix + content).hexdigest()[:32] == line["event_id"]
    assert line["occurred_at"] == "2026-03-02T09:15:00Z"


def test_the_engine_builds_its_records_with_new_record() -> None:
    from leadsla.domain import engine

    assert engine._new is _lines.new_record  # installed by leadsla.codec.outputs
    classes: list[Any] = [*RECORDS, Output, Fact]
    for cls in classes:
        items = tuple(f"{field}-value" for field in cls._fields)
        built: Any = _lines.new_record(cls, items)
        assert type(built) is cls
        assert built == tuple.__new__(cls, items)
        assert built._asdict() == tuple.__new__(cls, items)._asdict()
    for args in ((tuple, ()), (Output, [1, 2, 3, 4]), (int, ()), ("Output", ())):
        with pytest.raises(TypeError):
            _lines.new_record(*args)
