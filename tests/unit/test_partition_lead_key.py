"""The spill routes every line to the partition of the lead the codec decodes from it.

Given JSON lines assembled from tricky members (the lead's id spelled with escapes, spaces
around the colon, repeated, nested in ``data``, as a value, inside a CloudEvent; ids with
quotes, backslashes and non-ASCII text), when the spill reads a line's lead without parsing it,
then for every line the codec accepts it is the lead the codec decodes, and the clock bound it
keeps is at least that event's instant.
"""

from __future__ import annotations

import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st

from leadsla.codec import InvalidEvent, decode_line
from leadsla.partition import LatestBound, lead_key

ids = st.one_of(
    st.sampled_from(["L-1", "L-2", 'L-"3"', "L-\\4", "L-\u00e9", "lead_id", "occurred_at"]),
    st.text(alphabet='ab"\\:{}\u00e9 ', min_size=1, max_size=5),
)
times = st.sampled_from(
    ["2026-03-02T09:00:00Z", "2026-03-02T10:00:00.500000Z", "2026-03-02T11:00:00+01:00", "x"]
)


def _string(text: str) -> str:
    return orjson.dumps(text).decode()


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    lead, other = draw(ids), draw(ids)
    at, later = draw(times), draw(times)
    nested = f'{{"source":"chat","lead_id":{_string(other)},"occurred_at":"{later}"}}'
    lead_members = [
        f'"lead_id":{_string(lead)}',
        f'"lead_id" : {_string(lead)}',
        f'"lead\\u005fid":{_string(lead)}',
    ]
    at_members = [f'"occurred_at":"{at}"', f'"occurred\\u005fat":"{at}"']
    extras = [
        f'"lead_id":{_string(other)}',
        f'"occurred_at":"{later}"',
        '"note":"lead_id"',
        '"specversion":"1.0"',
        '"schema_version":1',
    ]
    members = [
        '"event_id":"e-1"',
        '"type":"lead.created"',
        draw(st.sampled_from(['"data":{"source":"chat"}', f'"data":{nested}'])),
        draw(st.sampled_from(lead_members)),
        draw(st.sampled_from(at_members)),
        *draw(st.lists(st.sampled_from(extras), max_size=2)),
    ]
    line = "{" + ",".join(draw(st.permutations(members))) + "}"
    if draw(st.booleans()):
        envelope = '{"specversion":"1.0","id":"c","source":"crm","type":"x","data":%s}'
        line = envelope % line
    return line.encode()


@settings(max_examples=3000, deadline=None)
@given(lines())
@example(
    b'{"event_id":"e","type":"lead.created","lead_id":"L","occurred_at":"2026-03-02T09:00:00Z","data":{"source":"chat"}}'
)
@example(
    b'{"event_id":"e","type":"lead.created","lead_id" :"L","occurred_at":"2026-03-02T09:00:00Z","data":{"source":"chat","lead_id":"M"}}'
)
def test_the_spill_reads_the_lead_the_codec_decodes(line: bytes) -> None:
    try:
        event = decode_line(line)
    except InvalidEvent:
        return  # an unusable line may go to any partition: it is reported from any of them
    latest = LatestBound()

    lead = lead_key(line, 7, latest)

    assert lead == event.lead_id
    bound = latest.value()
    assert isinstance(bound, int) and not isinstance(bound, bool)
    assert bound >= event.occurred_at
