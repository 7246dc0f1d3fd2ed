"""``LeadProcessor``: the agent's per-record work, driven with plain values and a dict as the table.

What it owns is the Kafka contract around the engine: CloudEvents headers on every output,
the topics of SPEC section 5, the key rule (input topics are co-partitioned by ``lead_id``),
dead letters for everything that cannot be used (never an exception, never a changed state),
duplicates that publish nothing, and the counts the metrics are made of.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from leadsla.codec import encode_input, output_event_id
from leadsla.domain.engine import BREACHED, ESCALATION, MEASURED, RETRACTED, WARNING
from leadsla.domain.events import (
    ActivityLogged,
    BreachResolved,
    InputEvent,
    LeadCreated,
    OwnerAssigned,
)
from leadsla.domain.instant import MINUTE, SECOND, Instant, format_utc, parse_rfc3339
from leadsla.domain.live import LiveConfig, LiveLead, step_many
from leadsla.domain.policy import Policy, RosterEntry, TargetRule
from leadsla.schemas.dlq import DeadLetter
from leadsla.schemas.outputs import topics_for
from leadsla.streams.metrics import Metrics
from leadsla.streams.process import Accepted, Handled, LeadProcessor, Origin, OutRecord
from leadsla.streams.state import StateError
from leadsla.topics import (
    LEADS_ACTIVITY,
    LEADS_CREATED,
    LEADS_OWNERSHIP,
    SLA_ALERTS,
    SLA_DLQ,
    SLA_FACTS,
    SLA_MEASUREMENTS,
    SLA_TASKS,
)

T0 = parse_rfc3339("2026-03-02T09:00:00Z")
POLICY = Policy(
    default_manager="mgr",
    version="v1",
    targets=(TargetRule(minutes=60),),
    roster={"alice": RosterEntry(backup="bob")},
)
SOURCE = "lead-sla/unit"
CONFIG = LiveConfig(held_timeout=60 * SECOND)
TOPIC_OF: dict[type, str] = {
    LeadCreated: LEADS_CREATED,
    OwnerAssigned: LEADS_OWNERSHIP,
    ActivityLogged: LEADS_ACTIVITY,
}

CREATED = LeadCreated("c", "L", T0, source="web_form")
OWNER = OwnerAssigned("o", "L", T0 + MINUTE, owner_id="alice")
ANSWER = ActivityLogged(
    "a", "L", T0 + 30 * MINUTE, actor_id="alice", actor_kind="person", kind="call"
)


class Worker:
    """The processor with a dict as the table, storing what it is told to store."""

    def __init__(self, policy: Policy = POLICY) -> None:
        self.processor = LeadProcessor(policy, config=CONFIG, source=SOURCE)
        self.table: dict[str, LiveLead] = {}
        self.offsets: dict[str, int] = {}
        self.records: list[OutRecord] = []

    def origin(self, topic: str, key: bytes | None, wall: Instant) -> Origin:
        offset = self.offsets.get(topic, 0)
        self.offsets[topic] = offset + 1
        return Origin(topic, 1, offset, wall, key=key, headers=(("trace", b"t-1"),))

    def send(
        self,
        value: bytes | None,
        *,
        topic: str = LEADS_ACTIVITY,
        key: bytes | None = b"L",
        now: Instant,
        wall: Instant | None = None,
    ) -> Handled:
        wall = now if wall is None else wall
        handled = self.processor.on_input(
            value, self.origin(topic, key, wall), self.table.get, now, wall
        )
        self._keep(handled)
        return handled

    def event(self, event: InputEvent, now: Instant, wall: Instant | None = None) -> Handled:
        return self.send(
            encode_input(event),
            topic=TOPIC_OF[type(event)],
            key=event.lead_id.encode(),
            now=now,
            wall=wall,
        )

    def tick(self, lead_id: str, now: Instant, wall: Instant | None = None) -> Handled:
        handled = self.processor.on_tick(self.table[lead_id], now, now if wall is None else wall)
        self._keep(handled)
        return handled

    def _keep(self, handled: Handled) -> None:
        self.records.extend(handled.records)
        if handled.lead_id is not None and handled.state is not None:
            self.table[handled.lead_id] = handled.state


def _raw(record: OutRecord) -> bytes:
    assert record.value is not None, "a tombstone where a value was due"
    return record.value


def _value(record: OutRecord) -> dict[str, Any]:
    value = orjson.loads(_raw(record))
    assert isinstance(value, dict)
    return value


def _letter(record: OutRecord) -> DeadLetter:
    assert record.topic == SLA_DLQ and record.type == "dead_letter"
    return DeadLetter.model_validate_json(_raw(record))


def _outputs(records: list[OutRecord]) -> list[OutRecord]:
    return [r for r in records if r.topic != SLA_DLQ]


def _breached_then_answered_late() -> Worker:
    """Created, owned, breached at +60 on the tick at +61, then alice's +30 answer read at +62."""
    worker = Worker()
    worker.event(CREATED, T0)
    worker.event(OWNER, T0 + MINUTE)
    worker.tick("L", T0 + 61 * MINUTE)
    worker.event(ANSWER, T0 + 62 * MINUTE)
    return worker


# ------------------------------------------------------------------ outputs


def test_every_output_record_carries_cloudevents_headers_matching_its_value() -> None:
    # Given a lead's whole live life: timers, a warning, a breach with its task, and retractions
    worker = _breached_then_answered_late()
    outputs = _outputs(worker.records)
    types = {r.type for r in outputs}
    assert types >= {MEASURED, WARNING, BREACHED, ESCALATION, RETRACTED}
    for record in outputs:
        value = _value(record)
        headers = dict(record.headers)
        # Then every record says, in binary-mode CloudEvents headers, what its value says
        assert len(record.headers) == len(headers) == 6
        assert headers["ce_id"] == value["event_id"].encode()
        assert headers["ce_type"] == value["type"].encode() == record.type.encode()
        assert headers["ce_source"] == SOURCE.encode()
        assert headers["ce_time"] == value["occurred_at"].encode()
        assert headers["ce_specversion"] == b"1.0"
        assert headers["content-type"] == b"application/json"
        # and the value is keyed by its lead, with the content-derived id
        assert record.key == b"L" and value["lead_id"] == "L"
        occurred = parse_rfc3339(value["occurred_at"])
        assert value["event_id"] == output_event_id("L", value["type"], occurred, value["data"])


def test_outputs_go_to_the_topics_of_section_5() -> None:
    worker = _breached_then_answered_late()
    by_id: dict[str, set[str]] = {}
    values: dict[str, dict[str, Any]] = {}
    for record in _outputs(worker.records):
        value = _value(record)
        by_id.setdefault(value["event_id"], set()).add(record.topic)
        values[value["event_id"]] = value
    for event_id, topics in by_id.items():
        value = values[event_id]
        assert topics == set(topics_for(value["type"], value["data"])), value["type"]
    kinds = {
        (values[i]["type"], values[i]["data"].get("retracted_type")): t for i, t in by_id.items()
    }
    # sla.measured goes to both sla.measurements and sla.facts
    assert kinds[(MEASURED, None)] == {SLA_MEASUREMENTS, SLA_FACTS}
    assert kinds[(BREACHED, None)] == {SLA_ALERTS}
    assert kinds[(ESCALATION, None)] == {SLA_TASKS}
    # a retraction goes where the event it retracts went
    assert kinds[(RETRACTED, BREACHED)] == {SLA_ALERTS}
    assert kinds[(RETRACTED, ESCALATION)] == {SLA_TASKS}


def test_every_fact_version_is_published_to_the_facts_topic_in_order() -> None:
    worker = _breached_then_answered_late()
    facts = [_value(r) for r in worker.records if r.topic == SLA_FACTS]
    versions = [f["data"]["version"] for f in facts]
    assert versions == list(range(1, len(versions) + 1))
    assert facts[-1]["data"]["status"] == "met"
    assert worker.table["L"].version == versions[-1]


def test_only_alerts_and_tasks_that_are_not_suppressed_carry_a_due_instant() -> None:
    worker = _breached_then_answered_late()
    for record in _outputs(worker.records):
        value = _value(record)
        if record.type in (WARNING, BREACHED, ESCALATION):
            assert record.due == parse_rfc3339(value["occurred_at"])
        else:
            assert record.due is None


# ------------------------------------------------------------------ the key rule


@pytest.mark.parametrize(
    ("key", "shown"),
    [(None, "(null)"), (b"L-other", "(b'L-other')"), (b"", "(b'')")],
)
def test_a_record_whose_key_is_not_its_lead_id_is_one_dead_letter(
    key: bytes | None, shown: str
) -> None:
    # Given a valid lead.created for L whose Kafka key is null or another lead's
    worker = Worker()
    raw = encode_input(CREATED)
    handled = worker.send(raw, topic=LEADS_CREATED, key=key, now=T0)
    # Then it is exactly one dead letter, with the original and a reason a person can read
    assert len(handled.records) == 1
    letter = _letter(handled.records[0])
    assert shown in letter.reason and "'L'" in letter.reason
    assert "co-partitioned by lead_id" in letter.reason
    assert base64.b64decode(letter.original_base64) == raw
    assert (letter.topic, letter.partition, letter.offset) == (LEADS_CREATED, 1, 0)
    assert letter.event_id == "c" and letter.lead_id == "L"
    assert letter.key_base64 == (None if key is None else base64.b64encode(key).decode())
    # and the lead is not touched
    assert handled.state is None and worker.table == {}
    assert worker.processor.counts.dead_letters == {"key": 1}
    assert worker.processor.counts.inputs == {"lead.created": 1}


def test_a_dead_letter_is_logged_with_its_lead_and_event(caplog: pytest.LogCaptureFixture) -> None:
    # Given a valid lead.created for L keyed by another lead
    worker = Worker()
    with caplog.at_level("WARNING", logger="leadsla.worker"):
        worker.send(encode_input(CREATED), topic=LEADS_CREATED, key=b"L-other", now=T0)
    # Then one warning says where the record was and why, with the lead and event ids as
    # fields (the JSON log format writes them as top-level keys: leadsla/logs.py)
    [line] = [r for r in caplog.records if "dead letter" in r.getMessage()]
    assert f"{LEADS_CREATED}/1 offset 0" in line.getMessage()
    assert "co-partitioned by lead_id" in line.getMessage()
    assert (getattr(line, "lead_id", None), getattr(line, "event_id", None)) == ("L", "c")


# ------------------------------------------------------------------ dead letters


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="tombstone"),
        pytest.param(b"", id="empty"),
        pytest.param(b"{not json", id="broken-json"),
        pytest.param(bytes(range(256)), id="binary"),
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(
            orjson.dumps(
                {
                    "event_id": "x",
                    "type": "lead.teleported",
                    "lead_id": "L",
                    "occurred_at": "2026-03-02T09:00:00Z",
                    "data": {},
                }
            ),
            id="unknown-type",
        ),
        pytest.param(
            orjson.dumps(
                {
                    "event_id": "x",
                    "type": "lead.owner_assigned",
                    "lead_id": "L",
                    "occurred_at": "2026-03-02T09:00:00Z",
                    "data": {"owner_kind": "person"},
                }
            ),
            id="missing-field",
        ),
    ],
)
def test_an_undecodable_record_is_a_dead_letter_with_its_original_bytes(raw: bytes | None) -> None:
    worker = Worker()
    worker.event(CREATED, T0)
    before = dict(worker.table)
    handled = worker.send(raw, topic=LEADS_OWNERSHIP, now=T0 + MINUTE)
    assert len(handled.records) == 1
    letter = _letter(handled.records[0])
    assert base64.b64decode(letter.original_base64) == (raw or b"")
    assert (letter.topic, letter.partition, letter.offset) == (LEADS_OWNERSHIP, 1, 0)
    assert letter.reason.strip()
    assert orjson.loads(_raw(handled.records[0]))["received_at"] == format_utc(T0 + MINUTE)
    assert [(h.key, h.value_base64) for h in letter.headers] == [
        ("trace", base64.b64encode(b"t-1").decode())
    ]
    assert handled.state is None and worker.table == before
    assert worker.processor.counts.inputs.get("invalid") == 1
    assert worker.processor.counts.dead_letters == {"invalid": 1}


def test_the_missing_field_reason_names_the_field() -> None:
    worker = Worker()
    raw = orjson.dumps(
        {
            "event_id": "x",
            "type": "lead.owner_assigned",
            "lead_id": "L",
            "occurred_at": "2026-03-02T09:00:00Z",
            "data": {"owner_kind": "person"},
        }
    )
    letter = _letter(worker.send(raw, topic=LEADS_OWNERSHIP, now=T0).records[0])
    assert "owner_id" in letter.reason
    assert letter.event_id == "x" and letter.lead_id == "L"


def test_an_exception_inside_the_engine_is_a_dead_letter_and_changes_no_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a lead the worker already holds
    worker = Worker()
    worker.event(CREATED, T0)
    before = worker.table["L"]
    records_before = len(worker.records)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    # When the engine raises while it handles alice's answer
    monkeypatch.setattr(worker.processor, "step", broken)
    raw = encode_input(ANSWER)
    handled = worker.send(raw, now=T0 + 30 * MINUTE)
    # Then the record is one dead letter saying why, not an exception
    assert len(handled.records) == 1
    letter = _letter(handled.records[0])
    assert letter.reason == "processing failed: RuntimeError: boom"
    assert base64.b64decode(letter.original_base64) == raw
    assert letter.event_id == "a" and letter.lead_id == "L"
    # and the lead's state is left as it was
    assert handled.state is None
    assert worker.table["L"] is before
    assert len(worker.records) == records_before + 1
    assert worker.processor.counts.dead_letters == {"failed": 1}


def test_a_state_that_cannot_be_read_is_a_dead_letter_not_an_exception() -> None:
    processor = LeadProcessor(POLICY, config=CONFIG, source=SOURCE)

    def unreadable(lead_id: str) -> LiveLead | None:
        raise StateError("not a lead state of format 1: b'XX\\x01'")

    origin = Origin(LEADS_ACTIVITY, 0, 5, T0, key=b"L")
    handled = processor.on_input(encode_input(ANSWER), origin, unreadable, T0, T0)
    assert handled.state is None
    assert len(handled.records) == 1
    assert "StateError" in _letter(handled.records[0]).reason


def test_an_exception_on_a_tick_publishes_nothing_and_changes_no_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker = Worker()
    worker.event(CREATED, T0)
    before = worker.table["L"]

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("year 10000 is out of range")

    monkeypatch.setattr(worker.processor, "step", broken)
    handled = worker.tick("L", T0 + 61 * MINUTE)
    assert handled.records == [] and handled.state is None
    assert worker.table["L"] is before


def test_an_input_too_far_in_the_future_is_counted_as_future() -> None:
    worker = Worker(Policy(default_manager="mgr", version="v1", max_future_minutes=5))
    worker.event(CREATED, T0)
    late = ActivityLogged(
        "f", "L", T0 + 10 * MINUTE, actor_id="alice", actor_kind="person", kind="call"
    )
    handled = worker.event(late, T0, wall=T0)
    assert [r.topic for r in handled.records] == [SLA_DLQ]
    assert "max_future_minutes" in _letter(handled.records[0]).reason
    assert worker.processor.counts.dead_letters == {"future": 1}
    assert late not in worker.table["L"].events


def test_an_engine_refusal_is_a_dead_letter_with_the_original_bytes() -> None:
    worker = Worker()
    worker.event(CREATED, T0)
    resolved = BreachResolved("r", "L", T0 + MINUTE, resolved_by="carol", resolution_note="n")
    raw = b" " + encode_input(resolved)
    handled = worker.send(raw, now=T0 + MINUTE)
    letters = [_letter(r) for r in handled.records if r.topic == SLA_DLQ]
    assert len(letters) == 1
    assert "never breached" in letters[0].reason
    assert base64.b64decode(letters[0].original_base64) == raw
    assert worker.processor.counts.dead_letters == {"engine": 1}


# ------------------------------------------------------------------ duplicates and counts


def test_a_duplicate_publishes_nothing_and_is_counted() -> None:
    worker = Worker()
    first = worker.event(CREATED, T0)
    assert _outputs(first.records)
    stored = worker.table["L"]
    again = worker.event(CREATED, T0 + MINUTE)
    assert again.records == [] and again.state is None
    assert worker.table["L"] is stored
    counts = worker.processor.counts
    assert counts.duplicates == 1
    assert counts.inputs == {"lead.created": 2}


def test_the_counts_say_what_the_records_did() -> None:
    # Given a lead breached on a tick and answered late (retractions), and a second lead read
    # two days late (its alerts are suppressed)
    worker = _breached_then_answered_late()
    old = LeadCreated("c2", "M", T0, source="web_form")
    worker.event(old, T0 + 2 * 1440 * MINUTE)
    counts = worker.processor.counts
    values = [_value(r) for r in _outputs(worker.records) if r.topic != SLA_FACTS]
    retracted = [v for v in values if v["type"] == RETRACTED]
    suppressed = [v for v in values if v["data"].get("suppressed") is True]
    assert counts.inputs == {"lead.created": 2, "lead.owner_assigned": 1, "lead.activity_logged": 1}
    assert counts.retractions == len(retracted) >= 2
    assert counts.suppressed == len(suppressed) >= 2
    assert counts.dead_letters == {} and counts.duplicates == 0
    # and the metrics add them up
    metrics = Metrics()
    published = [r.type for r in _outputs(worker.records) if r.topic != SLA_FACTS]
    metrics.observe_batch(counts, published, 0.001)
    sample = metrics.registry.get_sample_value
    assert sample("lead_sla_inputs_total", {"type": "lead.created"}) == 2
    assert sample("lead_sla_retractions_total") == counts.retractions
    assert sample("lead_sla_suppressed_total") == counts.suppressed
    assert sample("lead_sla_outputs_total", {"type": BREACHED}) == 2  # L's and M's
    assert sample("lead_sla_outputs_total", {"type": MEASURED}) == published.count(MEASURED)
    assert sample("lead_sla_dead_letters_total", {"reason": "invalid"}) == 0


def test_an_engine_failure_in_a_batch_dead_letters_only_the_culprit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a lead's three inputs read in one batch, the engine failing on any list holding "bad"
    real = step_many

    def picky(state: LiveLead, events: list[InputEvent], *args: Any, **kwargs: Any) -> Any:
        if any(e.event_id == "bad" for e in events):
            raise RuntimeError("cannot fold 'bad'")
        return real(state, events, *args, **kwargs)

    processor = LeadProcessor(POLICY, config=CONFIG, source=SOURCE)
    monkeypatch.setattr(processor, "step", picky)
    bad = ActivityLogged("bad", "L", T0 + MINUTE, actor_id="x", actor_kind="person", kind="note")
    items: list[Accepted] = []
    inputs: tuple[InputEvent, ...] = (CREATED, bad, OWNER)
    for offset, event in enumerate(inputs):
        origin = Origin(TOPIC_OF[type(event)], 0, offset, T0, key=b"L")
        accepted, letters = processor.accept(encode_input(event), origin)
        assert accepted is not None and letters == []
        items.append(accepted)
    # When the batch is advanced
    table: dict[str, LiveLead] = {}
    handled = processor.advance("L", items, table.get, T0 + 2 * MINUTE, T0 + 2 * MINUTE)
    # Then the culprit alone is a dead letter; the others are applied
    dead = [_letter(r) for r in handled.records if r.topic == SLA_DLQ]
    assert [(letter.event_id, letter.offset) for letter in dead] == [("bad", 1)]
    assert "cannot fold 'bad'" in dead[0].reason
    assert handled.state is not None
    assert {e.event_id for e in handled.state.events} == {"c", "o"}
    assert processor.counts.dead_letters == {"failed": 1}
