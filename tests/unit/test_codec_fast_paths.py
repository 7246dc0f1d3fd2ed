"""The replay's fast paths give what the reference paths give.

Given any instant, when the codec writes it as UTC text, then the text is ``format_utc``'s;
given any text shaped like a UTC timestamp, when the codec reads it, then it accepts and refuses
what ``parse_rfc3339`` does, with the same instant; given outputs of leads with tricky ids, when
their (sort key, line) records are sorted, spilled and merged, then the lines come in the order
of the (occurred_at, lead_id, type, event_id) tuples of SPEC section 7.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from leadsla.codec import (
    LineRecord,
    OutputRecord,
    encode_lead_lines,
    encode_lead_records,
    join_lines,
    record_line,
)
from leadsla.codec.inputs import utc_instant
from leadsla.codec.outputs import utc_text
from leadsla.domain.instant import MAX_INSTANT, MIN_INSTANT, SECOND, format_utc, parse_rfc3339
from leadsla.domain.outputs import Gap, Output, Stale
from leadsla.domain.vocabulary import GAP, STALE
from leadsla.partition import merge, write_records

instants = st.one_of(
    st.integers(min_value=MIN_INSTANT, max_value=MAX_INSTANT),
    st.integers(min_value=MIN_INSTANT // SECOND, max_value=MAX_INSTANT // SECOND).map(
        lambda s: s * SECOND
    ),
)


@settings(max_examples=2000, deadline=None)
@given(instants)
@example(MIN_INSTANT)
@example(MAX_INSTANT)
@example(0)
@example(-1)
@example(951_782_400 * SECOND)  # 2000-02-29
def test_utc_text_is_format_utc_s_text_and_reads_back(instant: int) -> None:
    text = utc_text(instant)

    assert text == format_utc(instant)
    assert utc_instant(text) == parse_rfc3339(text) == instant


def _outcome(parse: Callable[[str], int], text: str) -> tuple[str, int | None]:
    try:
        return "accepted", parse(text)
    except ValueError:
        return "refused", None


two_digits = st.text(alphabet="0123456789", min_size=2, max_size=2)
shaped = st.builds(
    lambda y, mo, d, h, mi, s, frac, t, z: f"{y}-{mo}-{d}{t}{h}:{mi}:{s}{frac}{z}",
    st.text(alphabet="0123456789", min_size=4, max_size=4),
    two_digits,
    two_digits,
    two_digits,
    two_digits,
    two_digits,
    st.sampled_from(["", ".000000", ".123456", ".5", ".1234567", ".00000\u0661"]),
    st.sampled_from(["T", "t", " "]),
    st.sampled_from(["Z", "z", "+00:00", "+02:00", ""]),
)


@settings(max_examples=3000, deadline=None)
@given(shaped)
@example("2024-02-29T12:00:00Z")
@example("2023-02-29T12:00:00Z")
@example("1900-02-29T12:00:00Z")
@example("0000-01-01T00:00:00Z")
@example("2026-01-01T24:00:00Z")
@example("2026-01-01T23:60:00Z")
@example("2026-01-01T23:59:60Z")
@example("2026-04-31T00:00:00Z")
@example("\uff12026-01-01T00:00:00Z")
@example("2026-01-01T00:00:00.\u0661\u0662\u0663\u0664\u0665\u0666Z")
def test_the_fast_timestamp_reader_agrees_with_parse_rfc3339(text: str) -> None:
    assert _outcome(utc_instant, text) == _outcome(parse_rfc3339, text)


lead_ids = st.one_of(
    st.sampled_from(["a", "a\x00", "a\x00\x01", "a\x01", "ab", "\x00", "\u00e9", "\U0001f600"]),
    st.text(alphabet="a\x00\x01\x02\u00e9\uffff\U0001f600", min_size=1, max_size=4),
)


def _output(kind: int, at: int, n: int) -> Output:
    """Two output types, with content that varies with ``n`` (so ids that differ)."""
    if kind:
        stale = Stale("web_form", "normal", at, None, at, "mgr", n * 1.5, None, False)
        return Output(STALE, at, stale)
    gap = Gap("chat", "high", at, f"rep-{n}", None, "mgr", "backup_owner", None, False)
    return Output(GAP, at, gap)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            lead_ids,
            st.lists(
                st.tuples(st.integers(0, 1), st.integers(-3, 3), st.integers(0, 2)),
                min_size=1,
                max_size=4,
            ),
        ),
        min_size=1,
        max_size=8,
    ),
    st.integers(1, 3),
)
def test_sorted_line_records_and_their_merge_keep_the_contract_s_order(
    tmp_path_factory: pytest.TempPathFactory,
    leads: list[tuple[str, list[tuple[int, int, int]]]],
    partitions: int,
) -> None:
    # Given outputs of leads with tricky ids, at instants that tie
    tuples: list[OutputRecord] = []
    lines: list[LineRecord] = []
    counts: dict[str, int] = {}
    for lead_id, specs in leads:
        outputs = [_output(kind, at * SECOND, n) for kind, at, n in specs]
        tuples.extend(encode_lead_records(lead_id, outputs))
        encode_lead_lines(lead_id, outputs, lines, counts)

    # When the line records are sorted, and also cut in partitions that are merged
    by_tuple = [record[4] for record in sorted(tuples)]
    by_key = [record_line(record) for record in sorted(lines)]
    folder = tmp_path_factory.mktemp("merge")
    paths: list[Path] = []
    for i in range(partitions):
        path = folder / f"out-{i}"
        write_records(path, sorted(lines[i::partitions]))
        paths.append(path)
    merged = b"".join(join_lines(chunk) for chunk in merge(paths)).split(b"\n")[:-1]

    # Then every way gives the order of the contract's tuples, and every output is counted
    assert by_key == by_tuple
    assert merged == by_tuple
    assert counts == {
        t: sum(1 for record in tuples if record[2] == t) for t in {r[2] for r in tuples}
    }
