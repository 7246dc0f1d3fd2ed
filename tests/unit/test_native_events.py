"""The C decoder (``leadsla/_events.c``) returns what the Python fast path returns, or declines.

Given random JSON lines, valid envelopes of every type and lines broken in every way the
envelope can be (a wrong type of value, a word outside its closed set, an empty or too long id,
odd timestamps, unknown members holding any JSON, members given twice, escapes, text beyond
ASCII and bytes that are not UTF-8, whitespace, trailing bytes, a CloudEvent), when a line is
decoded by the C decoder and by the Python fast path it accelerates
(``decode_envelope_fast(orjson.loads(line))``), then whatever the C decoder returns is that
same event, item for item and type for type; when it returns None the Python path decides
(``decode_line``). Plain valid lines, what producers write, are taken by the C decoder.

With the compiled modules only (``make venv``); under ``CI=true`` they must exist.
"""

from __future__ import annotations

import os
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import leadsla
from leadsla.codec import InvalidEvent, decode_line, route_native
from leadsla.codec.inputs import decode_envelope_fast, native_types
from leadsla.domain.events import InputEvent
from leadsla.domain.instant import parse_rfc3339

if "_events.c" not in leadsla.native_extensions():
    if os.environ.get("CI") == "true":
        pytest.fail(f"make venv should have built the C decoder: {leadsla.NATIVE}")
    pytest.skip(f"no C decoder here: {leadsla.NATIVE}", allow_module_level=True)

from leadsla import _events

TYPES = {name: fields for name, _, fields, _ in native_types()}
WORDS = sorted({word for fields in TYPES.values() for _, _, words, _ in fields for word in words})

# Raw JSON tokens, some of which orjson reads and some of which it refuses.
TOKEN = st.sampled_from(
    [
        "null",
        "true",
        "false",
        "0",
        "1",
        "-1",
        "-0",
        "1.5",
        "0.0",
        "1e3",
        "1E-2",
        "01",
        "1.",
        "-",
        "123456789012345678",
        "1234567890123456789",
        "12345678901234.5",
        "1.0",
        "2",
        "[]",
        "{}",
        '[1,"a",{"b":[null]}]',
        '{"k":{"k":{"k":1}}}',
        "[1,]",
        '{"a":1,}',
        "nul",
        '"x"',
        '""',
        '"a\\"b"',
        '"\\u00e9"',
        '"tab\tin"',
        '"\x01"',
        '"caf\xc3\xa9"',
        '"\xff"',
        '"\xed\xa0\x80"',
        "[" * 40 + "]" * 40,
        '"\\ud800"',
    ]
)
TEXT = st.one_of(
    st.sampled_from(
        ["", "x", "rep-17", "L-1", "é", "a b", "x" * 128, "x" * 129, "é" * 128, "é" * 129]
    ),
    st.text(max_size=12),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=12),
)
WHEN = st.one_of(
    st.sampled_from(
        [
            "2026-03-02T09:00:00Z",
            "2026-03-02T09:00:00.123456Z",
            "2026-03-02T09:00:00.5Z",
            "2026-03-02T09:00:00+02:00",
            "2026-03-02t09:00:00z",
            "2026-02-29T09:00:00Z",
            "2024-02-29T09:00:00Z",
            "2000-02-29T23:59:59.999999Z",
            "1900-02-29T00:00:00Z",
            "2026-13-02T09:00:00Z",
            "2026-04-31T09:00:00Z",
            "2026-03-02T24:00:00Z",
            "2026-03-02T09:60:00Z",
            "2026-03-02T09:00:60Z",
            "0000-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999Z",
            "2026-03-02 09:00:00Z",
            "2026-03-02T09:00:00",
            "2026-03-02T09:00:00.12345aZ",
            "2026-0a-02T09:00:00Z",
            "\uff12026-03-02T09:00:00Z",  # a fullwidth digit
        ]
    ),
    st.builds(
        "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format,
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 24),
        st.integers(0, 60),
        st.integers(0, 60),
    ),
)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


@st.composite
def value_of(draw: st.DrawFn, words: tuple[str, ...]) -> str:
    """A member's value as JSON text: mostly right for the field, sometimes anything."""
    choice = draw(st.integers(0, 9))
    if choice <= 4 and words:
        return _json(draw(st.sampled_from(words)))
    if choice <= 6:
        return _json(draw(TEXT))
    if choice == 7:
        return _json(draw(st.sampled_from(WORDS)))
    return draw(TOKEN)


def _space(draw: st.DrawFn, plain: bool) -> str:
    """JSON whitespace, or (not plain) also what only looks like it."""
    odd = [] if plain else ["\x0b", "\xa0", "\x0c"]
    return draw(st.sampled_from(["", "", "", " ", "\n", "\t", "\r\n ", *odd]))


def _object(draw: st.DrawFn, members: list[tuple[str, str]], plain: bool) -> str:
    def space() -> str:
        return _space(draw, plain)

    parts = [f"{space()}{key}{space()}:{space()}{value}" for key, value in members]
    return "{" + ",".join(parts) + space() + "}"


@st.composite
def lines(draw: st.DrawFn) -> tuple[bytes, bool]:
    """(a JSON line, whether it is plainly valid: what producers write, all C's to take)."""
    plain = draw(st.booleans())
    name = draw(st.sampled_from(sorted(TYPES)))
    data: list[tuple[str, str]] = []
    for key, kind, words, _ in TYPES[name]:
        if plain:
            if kind in (0, 3) and not (kind == 3 and name == "lead.updated"):
                data.append((_json(key), _json(words[0] if words else "value-1")))
            elif name == "lead.updated" and key == "priority":
                data.append((_json(key), _json(words[0])))
            elif draw(st.booleans()):
                value = words[-1] if words else ("value-2" if kind != 5 else draw(st.booleans()))
                data.append((_json(key), _json(value)))
        elif draw(st.integers(0, 3)):
            data.append((_json(key), draw(value_of(words))))
    envelope = [
        ('"event_id"', _json(draw(TEXT) if not plain else "e-1")),
        ('"type"', _json(name)),
        ('"lead_id"', _json(draw(TEXT) if not plain else "L-1")),
        ('"occurred_at"', _json(draw(WHEN) if not plain else "2026-03-02T09:00:00Z")),
    ]
    if not plain:
        extra = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(
                        [
                            '"extra"',
                            '""',
                            '"type"',
                            '"lead_id"',
                            '"specversion"',
                            '"schema_version"',
                            '"data"',
                            '"lead\\u005fid"',
                            '"é"',
                        ]
                    ),
                    st.one_of(TOKEN, TEXT.map(_json)),
                ),
                max_size=3,
            )
        )
        envelope += extra
        data += draw(
            st.lists(
                st.tuples(st.sampled_from(['"extra"', '"source"', '"kind"', '"x\\n"']), TOKEN),
                max_size=2,
            )
        )
    data_text = _object(draw, draw(st.permutations(data)), plain)
    if not plain and draw(st.integers(0, 9)) == 0:
        data_text = draw(TOKEN)
    envelope.append(('"data"', data_text))
    version = draw(st.sampled_from([None, "1", "1", "2", "1.0", '"1"', "true", "-0", "01"]))
    if version is not None and (not plain or version == "1"):
        envelope.append(('"schema_version"', version))
    line = _object(draw, draw(st.permutations(envelope)), plain)
    if not plain:
        line = draw(st.sampled_from(["", " ", "\ufeff", "[", "\x00"])) + line
        line += draw(st.sampled_from(["", "\n", " \r\n", "x", "}", "\x00", " 1"]))
    else:
        line += "\n"
    return line.encode("utf-8", "surrogatepass"), plain


def _python(line: bytes) -> InputEvent | None:
    """The Python fast path's answer for a line (None: not plainly valid)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict or "specversion" in obj:
        return None
    return decode_envelope_fast(obj)


def _same(event: InputEvent, expected: InputEvent | None) -> None:
    assert expected is not None
    assert type(event) is type(expected)
    assert event == expected
    assert [type(x) for x in event] == [type(x) for x in expected]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines())
@example(
    (
        b'{"event_id":"e","type":"lead.updated","lead_id":"L","occurred_at":"2026-03-02T09:00:00Z","data":{}}',
        False,
    )
)
@example(
    (
        b'{"event_id":"e","type":"lead.created","lead_id":"L","occurred_at":"2026-03-02T09:00:00Z","data":{"source":"a","source":"b"}}',
        False,
    )
)
@example(
    (
        b'{"event_id":"e","type":"lead.created","lead_id":"L","lead_id":"M","occurred_at":"2026-03-02T09:00:00Z","data":{"source":"a"}}',
        False,
    )
)
@example(
    (
        b'{"event_id":"e","type":"lead.created","lead_id":"L","occurred_at":"2026-03-02T09:00:00Z","data":{"source":"a","x":"\xff"}}',
        False,
    )
)
@example(
    (
        b'{"event_id":"e","type":"activity.logged","lead_id":"L","occurred_at":"2026-03-02T09:00:00Z","data":{"actor_id":"a","actor_kind":"person","kind":"call","auto_submitted":1}}',
        False,
    )
)
def test_the_c_decoder_gives_the_python_event_or_declines(case: tuple[bytes, bool]) -> None:
    line, plain = case
    event = _events.decode(line)
    expected = _python(line)
    if event is not None:
        _same(event, expected)
    elif plain:
        pytest.fail(f"a plainly valid line was declined: {line!r}")
    # whatever C did, decode_line gives the Python path's answer
    try:
        decoded = decode_line(line)
    except InvalidEvent:
        assert expected is None
    else:
        if expected is not None:
            _same(decoded, expected)


def test_what_it_declines_and_what_it_is_given() -> None:
    good = (
        b'{"event_id":"e","type":"lead.status_changed","lead_id":"L",'
        b'"occurred_at":"2026-03-02T09:00:00.000001Z","data":{"status":"closed"}}'
    )
    event = _events.decode(good)
    assert event is not None
    _same(event, _python(good))
    assert event.occurred_at == parse_rfc3339("2026-03-02T09:00:00.000001Z")
    assert _events.decode(good.decode()) is None  # text lines go to the Python path
    assert _events.decode(b"") is None
    assert _events.decode(b"\xef\xbb\xbf" + good) is None  # a byte-order mark: the replay's rule
    structured = b'{"specversion":"1.0","id":"c","source":"s","type":"t","data":' + good + b"}"
    assert _events.decode(structured) is None and decode_line(structured) == event
    assert route_native(good) == ("L", event.occurred_at)
    assert route_native(structured) is None


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines())
@example((b'{"lead_id":"L","occurred_at":"2026-03-02T09:00:00Z","type":1}', False))
@example((b'{"lead_id":"","occurred_at":"2026-03-02T09:00:00Z"}', False))
@example((b'{"lead_id":"L","occurred_at":"2026-03-02T09:00:00+01:00"}', False))
@example((b'{"lead_id":"L","lead_id":"M","occurred_at":"2026-03-02T09:00:00Z"}', False))
@example((b'{"lead_id":"\xc3\xa9","occurred_at":"2026-03-02T09:00:00Z","x":"\xff"}', False))
def test_the_route_is_the_spill_s_rule(case: tuple[bytes, bool]) -> None:
    """What the spill routes a line by: a JSON object without specversion whose lead_id and
    occurred_at are strings goes by its lead_id (partition.lead_key's Python rule)."""
    line, plain = case
    routed = _events.route(line)
    if routed is None:
        assert not plain, f"a plainly valid line was not routed: {line!r}"
        return
    obj = orjson.loads(line)  # the route takes only what orjson reads
    assert type(obj) is dict and "specversion" not in obj
    assert routed == (obj["lead_id"], parse_rfc3339(obj["occurred_at"]))
    assert type(routed[0]) is str and type(routed[1]) is int
    event = _python(line)
    if event is not None:
        assert routed == (event.lead_id, event.occurred_at)


def test_the_table_follows_the_event_classes() -> None:
    for _, cls, fields, _ in native_types():
        assert tuple(field[0] for field in fields) == cls._fields[3:]


def test_a_bad_configuration_is_refused_and_a_good_one_restores_it() -> None:
    from leadsla.codec.common import MAX_ID_LENGTH
    from leadsla.domain.vocabulary import CURRENT_SCHEMA_VERSION

    good = native_types()
    bad_word: Any = [(good[0][0], good[0][1], (("source", 3, ("é",), None),), False)]
    bad_kind: Any = [(good[0][0], good[0][1], (("source", 9, (), None),), False)]
    not_a_tuple_class: Any = [(good[0][0], dict, (), False)]
    try:
        for types in (bad_word, bad_kind, not_a_tuple_class):
            with pytest.raises((ValueError, TypeError)):
                _events.configure(types, parse_rfc3339, CURRENT_SCHEMA_VERSION, MAX_ID_LENGTH)
    finally:
        _events.configure(good, parse_rfc3339, CURRENT_SCHEMA_VERSION, MAX_ID_LENGTH)
    line = (
        b'{"event_id":"e","type":"lead.created","lead_id":"L",'
        b'"occurred_at":"2026-03-02T09:00:00Z","data":{"source":"web"}}'
    )
    _same(_events.decode(line), _python(line))
