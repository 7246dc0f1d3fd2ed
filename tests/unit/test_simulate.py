"""The simulated workload: reproducible, valid against the input contract, realistic in its shares.

The simulator is what the benchmark and the demos run on, so these tests hold it to its promises:
the same seed gives the same bytes; every line (but the deliberately invalid ones) passes the
input schema; the shares of SPEC section 2's values and the delivery oddities (duplicates, events
before their lead) come out at their configured rates; the policy file matches its roster.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import orjson
import pytest

from leadsla import cli, simulate
from leadsla.domain.instant import parse_rfc3339
from leadsla.policy_file import load_policy
from leadsla.schemas.inputs import validate_input

START = parse_rfc3339(simulate.DEFAULT_START)
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_POLICY = ROOT / "examples" / "simulate-policy.toml"


def lines_of(leads: int, seed: int = 42, **kwargs: Any) -> list[bytes]:
    return [line.value for line in simulate.iter_lines(leads, seed, START, **kwargs)]


@pytest.fixture(scope="module")
def workload() -> list[bytes]:
    """About 5,000 leads' worth of serialised events (seed 42)."""
    return lines_of(5000)


@pytest.fixture(scope="module")
def events(workload: list[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in workload]


@pytest.fixture(scope="module")
def created(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["lead_id"]: e for e in events if e["type"] == "lead.created"}


def test_same_seed_gives_the_same_bytes() -> None:
    first = lines_of(400, seed=7, shuffle_window=120)
    assert first == lines_of(400, seed=7, shuffle_window=120)
    assert len(first) > 1500


def test_different_seeds_give_different_workloads() -> None:
    assert lines_of(200, seed=1) != lines_of(200, seed=2)


def test_generate_is_lazy() -> None:
    first = next(simulate.generate(10**9, 3, START))
    assert first["type"] == "lead.created"


def test_every_line_is_a_valid_input_event(workload: list[bytes]) -> None:
    types: Counter[str] = Counter()
    for line in workload:
        model = validate_input(orjson.loads(line))
        types[model.type] += 1
    assert set(types) == {
        "lead.created",
        "lead.owner_assigned",
        "lead.activity_logged",
        "lead.updated",
        "lead.status_changed",
        "lead.breach_resolved",
    }


def test_timestamps_are_utc_with_whole_seconds_or_milliseconds(
    events: list[dict[str, Any]],
) -> None:
    lengths = Counter(len(e["occurred_at"]) for e in events)
    assert set(lengths) == {len("2026-11-02T08:00:00Z"), len("2026-11-02T08:00:00.000Z")}
    assert all(e["occurred_at"].endswith("Z") for e in events)


def test_event_ids_are_unique_except_redeliveries(workload: list[bytes]) -> None:
    by_id: dict[str, bytes] = {}
    repeats = 0
    for line in workload:
        event_id = orjson.loads(line)["event_id"]
        if event_id in by_id:
            repeats += 1
            assert by_id[event_id] == line  # a redelivery is the same event, byte for byte
        by_id[event_id] = line
    assert 0.003 < repeats / len(workload) < 0.008  # ~0.5%


def test_some_events_arrive_before_their_lead(events: list[dict[str, Any]]) -> None:
    seen_ids: set[str] = set()
    created: set[str] = set()
    early = 0
    for e in events:
        if e["event_id"] in seen_ids:
            continue
        seen_ids.add(e["event_id"])
        if e["type"] == "lead.created":
            created.add(e["lead_id"])
        elif e["lead_id"] not in created:
            early += 1
    assert 0.0025 < early / len(events) < 0.009  # ~0.5%


def test_nothing_happens_before_its_lead_was_created(
    events: list[dict[str, Any]], created: dict[str, dict[str, Any]]
) -> None:
    for e in events:
        start = created[e["lead_id"]]["occurred_at"]
        assert parse_rfc3339(e["occurred_at"]) >= parse_rfc3339(start), e


def test_delivery_follows_occurred_at_without_a_shuffle_window(
    events: list[dict[str, Any]],
) -> None:
    """Only late lead.created events and redeliveries break occurred_at order."""
    latest = 0
    seen: set[str] = set()
    for e in events:
        at = parse_rfc3339(e["occurred_at"])
        if e["type"] != "lead.created" and e["event_id"] not in seen:
            assert at >= latest, e
            latest = at
        seen.add(e["event_id"])


def test_a_shuffle_window_delivers_out_of_order_within_the_window() -> None:
    window = 600
    latest = 0
    regressions = 0
    seen: set[str] = set()
    for e in simulate.generate(500, 42, START, shuffle_window=window):
        at = parse_rfc3339(e["occurred_at"])
        if e["type"] != "lead.created" and e["event_id"] not in seen:
            if at < latest:
                regressions += 1
                assert latest - at <= window * 1_000_000, e
            latest = max(latest, at)
        seen.add(e["event_id"])
    assert regressions > 50


def share(counter: Counter[str], total: int) -> dict[str, float]:
    return {key: count / total for key, count in counter.items()}


def test_sources_have_their_shares(created: dict[str, dict[str, Any]]) -> None:
    named = {source for source, _ in simulate.SOURCES} - {"other"}
    counts = Counter(
        e["data"]["source"] if e["data"]["source"] in named else "other" for e in created.values()
    )
    shares = share(counts, len(created))
    for source, percent in simulate.SOURCES:
        assert shares[source] == pytest.approx(percent / 100, abs=0.02), source


def test_priorities_have_their_shares_and_are_sometimes_omitted(
    created: dict[str, dict[str, Any]],
) -> None:
    counts = Counter(e["data"].get("priority", "normal") for e in created.values())
    shares = share(counts, len(created))
    for priority, percent in simulate.PRIORITIES:
        assert shares[priority] == pytest.approx(percent / 100, abs=0.02), priority
    omitted = sum("priority" not in e["data"] for e in created.values())
    assert 0.1 < omitted / len(created) < 0.3


def test_lead_attributes_have_realistic_rates(created: dict[str, dict[str, Any]]) -> None:
    n = len(created)
    data = [e["data"] for e in created.values()]
    support = sum(
        d.get("customer_status") == "existing_customer" or d.get("category") == "support_issue"
        for d in data
    )
    review = sum(
        d.get("category") in ("complaint", "urgent_request", "customer_conflict")
        and d.get("customer_status") != "existing_customer"
        for d in data
    )
    unclear = sum(d.get("consent") == "unclear" for d in data)
    declined = sum(d.get("consent") == "declined" for d in data)
    assert 0.08 < support / n < 0.12
    assert 0.025 < review / n < 0.055
    assert 0.01 < unclear / n < 0.03
    assert 0.004 < declined / n < 0.018


def test_ownership_and_responses_look_like_a_sales_team(
    events: list[dict[str, Any]], created: dict[str, dict[str, Any]]
) -> None:
    by_lead: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_lead.setdefault(e["lead_id"], []).append(e)
    new_leads = [
        lead
        for lead, e in created.items()
        if e["data"].get("customer_status") != "existing_customer"
        and e["data"].get("category") != "support_issue"
    ]
    never_assigned = queue_first = answered = 0
    for lead in new_leads:
        assignments = [e for e in by_lead[lead] if e["type"] == "lead.owner_assigned"]
        if not assignments:
            never_assigned += 1
        elif min(assignments, key=lambda e: e["occurred_at"])["data"].get("owner_kind") == "queue":
            queue_first += 1
        answered += any(
            e["type"] == "lead.activity_logged"
            and e["data"]["actor_kind"] == "person"
            and e["data"].get("direction", "outbound") == "outbound"
            and e["data"]["kind"]
            in ("email", "call", "voicemail", "sms", "chat", "meeting_booked", "conversation")
            and "sequence_id" not in e["data"]
            and not e["data"].get("auto_submitted")
            for e in by_lead[lead]
        )
    n = len(new_leads)
    assert 0.05 < never_assigned / n < 0.11
    assert 0.07 < queue_first / n < 0.13
    assert 0.8 < answered / n < 0.92


def test_invalid_lines_come_on_top_of_the_same_valid_stream() -> None:
    valid = lines_of(600, seed=5)
    mixed = lines_of(600, seed=5, invalid_rate=0.05)
    valid_set = set(valid)
    assert [line for line in mixed if line in valid_set] == valid
    invalid = [line for line in mixed if line not in valid_set]
    assert 0.035 < len(invalid) / len(mixed) < 0.065
    for line in invalid:
        with pytest.raises(ValueError):  # orjson and pydantic errors are both ValueErrors
            obj = orjson.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
            validate_input(obj)


def test_the_example_policy_is_the_simulators_roster() -> None:
    assert EXAMPLE_POLICY.read_text(encoding="utf-8") == simulate.policy_toml()
    raw = tomllib.loads(EXAMPLE_POLICY.read_text(encoding="utf-8"))
    reps = {rep for team in simulate.TEAMS for rep in team.reps}
    assert len(reps) == 40 and len(simulate.TEAMS) == 5
    assert set(raw["roster"]) == reps
    without_backup = [rep for rep, entry in raw["roster"].items() if "backup" not in entry]
    assert 0 < len(without_backup) <= 8
    for entry in raw["roster"].values():
        assert entry.get("backup", next(iter(reps))) in reps
    policy = load_policy(str(EXAMPLE_POLICY))
    assert policy.clock == "business" and policy.timezone == simulate.TIMEZONE
    assert set(policy.roster) == reps
    assert policy.default_manager == simulate.DEFAULT_MANAGER


def test_every_person_owner_is_on_the_roster(events: list[dict[str, Any]]) -> None:
    reps = {rep for team in simulate.TEAMS for rep in team.reps}
    owners = {
        e["data"]["owner_id"]
        for e in events
        if e["type"] == "lead.owner_assigned" and e["data"].get("owner_kind") != "queue"
    }
    assert owners <= reps


def run_cli(*argv: str) -> int:
    return cli.main(["simulate", *argv])


def test_the_command_writes_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "events.jsonl"
    policy = tmp_path / "policy.toml"
    assert (
        run_cli("--leads", "50", "--seed", "9", "--out", str(out), "--write-policy", str(policy))
        == 0
    )
    written = out.read_bytes().splitlines()
    assert written == lines_of(50, seed=9)
    assert policy.read_text(encoding="utf-8") == simulate.policy_toml()
    assert f"{len(written)} lines" in capsys.readouterr().err


def test_the_command_refuses_a_bad_start(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--leads", "5", "--start", "tomorrow morning") == 2
    assert "--start" in capsys.readouterr().err


class FakeProducer:
    instances: ClassVar[list[FakeProducer]] = []

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.flushed = self.closed = False
        FakeProducer.instances.append(self)

    def send(self, topic: str, key: bytes | None = None, value: bytes = b"") -> None:
        self.sent.append((topic, key, value))

    def flush(self) -> None:
        self.flushed = True

    def close(self) -> None:
        self.closed = True


def test_producing_routes_each_type_to_its_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_kafka = ModuleType("kafka")
    fake_kafka.KafkaProducer = FakeProducer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kafka", fake_kafka)
    FakeProducer.instances.clear()
    args = argparse.Namespace(
        leads=80,
        seed=3,
        start=simulate.DEFAULT_START,
        leads_per_day=300.0,
        out="-",
        bootstrap="127.0.0.1:9092",
        topic_prefix="t1.",
        invalid_rate=0.0,
        shuffle_window=0.0,
        write_policy=None,
    )
    assert simulate.run(args) == 0
    (producer,) = FakeProducer.instances
    assert producer.flushed and producer.closed
    assert [value for _, _, value in producer.sent] == lines_of(80, seed=3)
    expected = {"lead.created": "t1.leads.created", "lead.owner_assigned": "t1.leads.ownership"}
    for topic, key, value in producer.sent:
        event = orjson.loads(value)
        assert key == event["lead_id"].encode()
        assert topic == expected.get(event["type"], "t1.leads.activity")


def test_the_workload_spans_business_days(created: dict[str, dict[str, Any]]) -> None:
    days = Counter(e["occurred_at"][:10] for e in created.values())
    # Mon 2 Nov 2026 onwards: weekdays busy, the weekend quiet.
    assert days["2026-11-03"] > 3 * days["2026-11-07"] > 0
