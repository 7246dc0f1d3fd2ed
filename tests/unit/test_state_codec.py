"""The lead state codec (``streams/state.py``): what the worker's changelog-backed table stores.

A state must come back exactly as it was stored (every field, every input type, arbitrary
bytes of held records, floats of facts); the header must say when the lead next needs the clock
and where it lives without decoding the body; and bytes of any other format must be refused with
``StateError``, never half-read.
"""

from __future__ import annotations

import pickle
import random
from dataclasses import replace

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsla.domain.engine import BREACHED, ESCALATION, STALE, Output
from leadsla.domain.events import (
    TYPE_NAME,
    ActivityLogged,
    BreachResolved,
    InputEvent,
    LeadCreated,
    LeadUpdated,
    OwnerAssigned,
    StatusChanged,
)
from leadsla.domain.instant import MINUTE, SECOND, parse_rfc3339
from leadsla.domain.live import DAY, HeldRecord, LiveConfig, LiveLead, step
from leadsla.domain.outputs import Breach, Escalation, Fact, Stale
from leadsla.streams.process import OutRecord
from leadsla.streams.state import (
    FORMAT,
    HEADER_SIZE,
    MAGIC,
    StateError,
    dumps,
    header,
    load,
    loads,
)

from .test_engine_properties import NOW, POLICY, histories

T0 = parse_rfc3339("2026-03-02T09:00:00Z")
CONFIG = LiveConfig(held_timeout=90 * SECOND, retention=3 * DAY)

EVERY_TYPE: tuple[InputEvent, ...] = (
    LeadCreated(
        "e1",
        "L",
        T0,
        source="pricing_page",
        priority="urgent",
        intent="high",
        category="complaint",
        customer_status="existing_customer",
        consent="unclear",
        account_id="acc-1",
        display_name='Zoë "Q" O\'Brien \u2603',
    ),
    LeadCreated("e1b", "L", T0 + 1, source="web_form"),  # every optional left at its default
    LeadUpdated("e2", "L", T0 + MINUTE, priority="high", consent="granted"),
    LeadUpdated(
        "e2b",
        "L",
        T0 + MINUTE,
        priority="low",
        intent="normal",
        category="inquiry",
        customer_status="new",
        consent="declined",
    ),
    OwnerAssigned(
        "e3",
        "L",
        T0 + 2 * MINUTE,
        owner_id="alice",
        owner_kind="queue",
        backup_owner_id="bob",
        manager_id="carol",
    ),
    ActivityLogged(
        "e4",
        "L",
        T0 + 3 * MINUTE + 7,
        actor_id="alice",
        actor_kind="automation",
        kind="autoresponder",
        direction="inbound",
        next_step="call back",
        auto_submitted=True,
        sequence_id="seq-9",
    ),
    StatusChanged("e5", "L", T0 + 4 * MINUTE, status="closed", reason="no budget"),
    BreachResolved(
        "e6", "L", T0 + 5 * MINUTE, resolved_by="carol", resolution_note="ok", reason_code="x"
    ),
    BreachResolved("e6b", "L", T0 + 5 * MINUTE, resolved_by="carol", resolution_note="ok"),
)

FACT = Fact(
    source="pricing_page",
    priority="urgent",
    intent="high",
    owner_id=None,
    manager_id="mgr",
    created_at=T0,
    due_at=T0 + 15 * MINUTE,
    status="met",
    eligible=True,
    responded_at=T0 + 12 * MINUTE + 30 * SECOND + 250_000,
    response_seconds=750.25,
    within_sla=True,
    breach_reason=None,
    resolution_note=None,
    resolved_by=None,
    pre_breach_warned=False,
    escalated=False,
    escalation_level=0,
    meeting_after_escalation=False,
    stale=False,
    in_review=False,
    policy_version="v1",
    version=7,
)


def _full_state() -> LiveLead:
    breach = Output(
        BREACHED,
        T0 + 15 * MINUTE,
        Breach("x", "urgent", T0, None, T0 + 15 * MINUTE, None, "mgr", "no_owner", False, False,
               'Zo\u00eb "Q" \u2603', True),
    )  # fmt: skip
    task = Output(
        ESCALATION,
        T0 + 15 * MINUTE,
        Escalation("x", "urgent", T0, None, T0 + 15 * MINUTE, "t1", "mgr", "manager", 1,
                   "no_owner", False, None, False),
    )  # fmt: skip
    stale = Output(
        STALE,
        T0 + 30 * MINUTE + 1,
        Stale("x", "urgent", T0, None, None, "mgr", 0.1 + 0.2, None, False),
    )
    return LiveLead(
        lead_id="L \u00e9\u4e2d/\x1f",
        events=EVERY_TYPE,
        published=frozenset({"d" * 24, "e" * 24, "0123456789abcdef01234567"}),
        standing=(breach, task, stale),
        fact=FACT,
        version=7,
        dead_lettered=frozenset({"e9\x1fabcdef0123456789", "e10\x1f0000000000000000"}),
        next_due=T0 + 60 * MINUTE,
        policy_version="2026-03 \u00e9",
        held_since=T0 - 5,
        held_records=(
            HeldRecord("e3", "t.leads.ownership", 3, 12345678901, bytes(range(256))),
            HeldRecord("e4", "leads.activity", 0, 0, b""),
        ),
        last_input_at=T0 + 99,
        retired=False,
    )


def test_every_field_and_every_input_type_round_trip() -> None:
    # Given a state where every field is set and every input type appears
    state = _full_state()
    assert {type(e) for e in state.events} == set(TYPE_NAME)
    # When it is stored and read back
    back = loads(dumps(state, 3, CONFIG))
    # Then it is the same state, field by field
    assert back == state
    assert back.events == state.events
    assert [type(e) for e in back.events] == [type(e) for e in state.events]
    assert back.held_records[0].value == bytes(range(256))
    assert (
        isinstance(back.standing[2].data, Stale) and back.standing[2].data.age_seconds == 0.1 + 0.2
    )
    assert back.fact is not None and back.fact.response_seconds == 750.25
    assert type(back.fact.escalation_level) is int
    assert type(back.events[5].auto_submitted) is bool  # type: ignore[union-attr]


def test_an_empty_and_a_retired_state_round_trip() -> None:
    empty = LiveLead("L")
    assert loads(dumps(empty, 0)) == empty
    retired = LiveLead(
        "L",
        fact=FACT._replace(version=3),
        version=3,
        policy_version="v1",
        last_input_at=T0,
        retired=True,
    )
    assert loads(dumps(retired, 0)) == retired


def test_the_header_gives_wake_and_partition_without_the_body() -> None:
    # Given a stored state whose wake is its next timer
    state = _full_state()
    raw = dumps(state, 11, CONFIG)
    # Then the header alone says when it needs the clock and where it lives
    assert header(raw) == (T0 + 60 * MINUTE, 11)
    # even when the body cannot be read
    assert header(raw[:HEADER_SIZE] + b"\xff not json") == (T0 + 60 * MINUTE, 11)
    assert header(raw[:HEADER_SIZE]) == (T0 + 60 * MINUTE, 11)


def test_the_header_wake_follows_the_live_config() -> None:
    # A held lead wakes at held_since + held_timeout; a decided lead at retention
    held = LiveLead("L", events=(EVERY_TYPE[4],), held_since=T0)
    assert header(dumps(held, 2, CONFIG)) == (T0 + 90 * SECOND, 2)
    decided = LiveLead("L", fact=FACT._replace(version=1), version=1, last_input_at=T0)
    assert header(dumps(decided, 5, CONFIG)) == (T0 + 3 * DAY, 5)
    assert header(dumps(LiveLead("L"), 0, CONFIG)) == (None, 0)
    retired = LiveLead(
        "L", fact=FACT._replace(version=1), version=1, last_input_at=T0, retired=True
    )
    assert header(dumps(retired, 0, CONFIG)) == (None, 0)


def test_the_header_is_the_documented_fixed_layout() -> None:
    raw = dumps(_full_state(), 258, CONFIG)
    assert raw[:2] == MAGIC == b"LS"
    assert raw[2] == FORMAT
    assert int.from_bytes(raw[3:11], "big", signed=True) == T0 + 60 * MINUTE
    assert int.from_bytes(raw[11:15], "big") == 258
    assert HEADER_SIZE == 15
    assert orjson.loads(raw[HEADER_SIZE:])["lead"] == "L \u00e9\u4e2d/\x1f"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"LS\x01", id="short"),
        pytest.param(pickle.dumps(LiveLead("L")), id="pickle"),
        pytest.param(orjson.dumps({"lead": "L"}), id="json-without-header"),
        pytest.param(b"XX\x01" + bytes(12) + b'{"lead":"L"}', id="other-magic"),
        pytest.param(b"LS\x02" + bytes(12) + b'{"lead":"L"}', id="other-version"),
        pytest.param(b"LS\x00" + bytes(12) + b'{"lead":"L"}', id="version-0"),
    ],
)
def test_bytes_of_another_format_are_refused(raw: bytes) -> None:
    with pytest.raises(StateError):
        header(raw)
    with pytest.raises(StateError):
        loads(raw)


def test_a_right_header_with_a_broken_body_is_refused_on_load() -> None:
    raw = dumps(_full_state(), 1, CONFIG)
    with pytest.raises(StateError):
        loads(raw[: HEADER_SIZE + 10])
    with pytest.raises(StateError):
        loads(raw[:HEADER_SIZE] + b"\x80\x81")


def test_state_error_is_a_value_error() -> None:
    assert issubclass(StateError, ValueError)


# ------------------------------------------------------------------ property over live steps

PATIENT = LiveConfig(held_timeout=30 * MINUTE, retention=DAY)


def _id_of(lead_id: str, output: Output) -> str:
    return f"{lead_id}:{output.type}:{output.occurred_at}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories, st.randoms(use_true_random=False), st.integers(min_value=0, max_value=15))
def test_every_state_the_live_steps_reach_round_trips(
    events: list[InputEvent], rnd: random.Random, partition: int
) -> None:
    # Given a lead's inputs delivered in any order at wall-clock instants, with ticks in between
    # (so held waits expire, timers fire, decided leads retire)
    arrival = list(events)
    rnd.shuffle(arrival)
    clock = sorted(rnd.randint(T0 - 30 * MINUTE, NOW) for _ in arrival)
    state = LiveLead("L")
    for event, wall in zip(arrival, clock, strict=True):
        for item in (event, None):
            state = step(state, item, wall, POLICY, _id_of, wall=wall, config=PATIENT).state
            if state.held_since is not None and item is not None and not state.created:
                held = HeldRecord(item.event_id, "leads.activity", partition, 7, rnd.randbytes(9))
                state = replace(state, held_records=(*state.held_records, held))
            # Then every state reached comes back equal, and its header says its wake
            raw = dumps(state, partition, PATIENT)
            assert loads(raw) == state
            assert header(raw) == (state.wake(PATIENT), partition)
    for later in (NOW, NOW + 2 * DAY):
        state = step(state, None, later, POLICY, _id_of, wall=later, config=PATIENT).state
        raw = dumps(state, partition, PATIENT)
        assert loads(raw) == state
        assert header(raw) == (state.wake(PATIENT), partition)


def test_the_group_generation_a_state_was_written_under_comes_back_with_it() -> None:
    # Given a lead state stored under consumer group generation 7
    state = LiveLead("lead-g", fact=FACT, version=FACT.version)
    raw = dumps(state, 1, epoch=7)
    # When it is loaded
    loaded = load(raw)
    # Then the state is the same and the generation comes with it (0: never recorded)
    assert loaded.state == state
    assert loaded.epoch == 7
    assert loaded.outbox == []
    assert load(dumps(state, 1)).epoch == 0
    assert loads(raw) == state


def test_an_outbox_comes_back_byte_for_byte_and_makes_the_lead_due_at_once() -> None:
    # Given a state stored with the records of its batch, not yet known to be published
    state = _full_state()
    outbox = [
        OutRecord("sla.alerts", b"L", b'{"x":1}', [("ce_id", b"abc"), ("ce_type", b"t")], "t", 5),
        OutRecord("sla.facts", b"L", None, [], "erase"),
    ]
    raw = dumps(state, 2, CONFIG, 0, outbox)
    # Then they come back exactly, with the state
    loaded = load(raw)
    assert loaded.state == state
    assert loaded.outbox == outbox
    # and the header says "now", so that an index rebuilt after a crash brings it back at once
    assert header(raw) == (0, 2)
    # stored again without them, the header has the lead's own wake
    assert header(dumps(state, 2, CONFIG)) == (state.wake(CONFIG), 2)


def test_an_outbox_keeps_any_bytes_and_reads_the_earlier_base64_form() -> None:
    # Given records whose bytes are text (the usual case) and one that is not UTF-8
    state = _full_state()
    outbox = [
        OutRecord("sla.alerts", b"L", b'{"x":"\xc3\xa9"}', [("ce_id", b"abc")], "t", 5),
        OutRecord("sla.dlq", b"\xff\xfe", b"\x00\x80binary", [("h", b"\xff")], "dead_letter"),
    ]
    raw = dumps(state, 2, CONFIG, 0, outbox)
    # Then both come back byte for byte, the text one stored as text (not base64)
    assert load(raw).outbox == outbox
    assert b'"{\\"x\\":\\"\xc3\xa9\\"}"' in raw
    # And a state written with the earlier six-item base64 form still reads
    plain = dumps(state, 2, CONFIG)
    body = orjson.loads(plain[HEADER_SIZE:])
    body["outbox"] = [["sla.alerts", "TA==", "eyJ4IjoxfQ==", [["ce_id", "YWJj"]], "t", 5]]
    earlier = plain[:HEADER_SIZE] + orjson.dumps(body)
    assert load(earlier).outbox == [
        OutRecord("sla.alerts", b"L", b'{"x":1}', [("ce_id", b"abc")], "t", 5)
    ]
