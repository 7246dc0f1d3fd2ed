"""The sample notifier (examples/notifier/) end to end: a real broker, a local webhook receiver,
the notifier as a subprocess killed with SIGKILL half-way and started again.

The output events come from ``lead-sla replay`` of a small simulated history (tasks, alerts,
tasks closed by late answers), plus a few made by hand for what replay never emits: a
suppressed task and alert, a retracted alert, a retracted task, and a close for a task the
notifier never opened.
"""

from __future__ import annotations

import copy
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from .conftest import KafkaIO, KafkaNames
from .webhook import Receiver

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]
NOTIFIER = REPO / "examples" / "notifier" / "notifier.py"
TASKS = ("sla.escalation_task", "sla.review_requested")
ALERTS = (
    "sla.pre_breach_warning",
    "sla.breached",
    "sla.stale_lead",
    "sla.ownership_gap",
    "sla.excluded",
)


def _replayed_outputs(tmp_path: Path) -> list[dict[str, Any]]:
    """Tasks, alerts and task_closed events from `lead-sla replay` of a 60-lead history."""
    events, policy, outputs = tmp_path / "in.jsonl", tmp_path / "p.toml", tmp_path / "out.jsonl"
    cli = [sys.executable, "-m", "leadsla.cli"]
    for args in (
        ["simulate", "--leads", "60", "--seed", "7", "--out", str(events), "--write-policy"],
        ["replay", str(events), "--policy", str(policy), "--out", str(outputs)],
    ):
        if args[-1] == "--write-policy":
            args.append(str(policy))
        done = subprocess.run([*cli, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    wanted = (*TASKS, *ALERTS, "sla.task_closed")
    lines = outputs.read_bytes().splitlines()
    return [e for e in map(orjson.loads, lines) if e["type"] in wanted]


def _by_hand(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What replay never emits: suppressed outputs, retractions, a close with nothing open."""
    closed = {e["data"]["task_id"] for e in outputs if e["type"] == "sla.task_closed"}
    alert = next(e for e in outputs if e["type"] == "sla.breached")
    task = next(e for e in outputs if e["type"] in TASKS and e["data"]["task_id"] not in closed)
    suppressed_alert = copy.deepcopy(alert)
    suppressed_alert["event_id"] = "hand-suppressed-alert"
    suppressed_alert["data"]["suppressed"] = True
    suppressed_task = copy.deepcopy(task)
    suppressed_task["event_id"] = "hand-suppressed-task"
    suppressed_task["data"].update(suppressed=True, task_id="hand-task-1")
    return [
        suppressed_alert,
        suppressed_task,
        _event("hand-close-1", "sla.task_closed", task["lead_id"], task_id="hand-task-1"),
        _event("hand-retract-alert", "sla.alert_retracted", alert["lead_id"], retracted=alert),
        _event("hand-retract-task", "sla.alert_retracted", task["lead_id"], retracted=task),
    ]


def _event(
    event_id: str,
    kind: str,
    lead_id: str,
    task_id: str | None = None,
    retracted: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any]
    if retracted is not None:
        data = {"retracted_event_id": retracted["event_id"], "reason": "late_data"}
        data["_topic"] = "sla.tasks" if retracted["type"] in TASKS else "sla.alerts"
    else:
        data = {"task_id": task_id, "reason": "answered"}
    return {
        "event_id": event_id,
        "type": kind,
        "lead_id": lead_id,
        "occurred_at": "2026-11-04T18:00:00Z",
        "data": data,
    }


def _topic(event: dict[str, Any]) -> str:
    if "_topic" in event["data"]:
        return str(event["data"].pop("_topic"))
    return "sla.tasks" if event["type"] in (*TASKS, "sla.task_closed") else "sla.alerts"


def _expected(events: list[dict[str, Any]]) -> dict[str, tuple[str, list[str]]]:
    """Idempotency-Key -> (action, opened event ids) a correct notifier POSTs, in the order of
    the topics (a task, its close and its retraction share a topic and a partition)."""
    expected: dict[str, tuple[str, list[str]]] = {}
    open_tasks: dict[str, list[str]] = {}
    open_ids: set[str] = set()
    for event in events:
        data = event["data"]
        if event["type"] in (*TASKS, *ALERTS):
            if not data.get("suppressed"):
                expected[event["event_id"]] = ("open", [])
                open_ids.add(event["event_id"])
                if "task_id" in data:
                    open_tasks.setdefault(data["task_id"], []).append(event["event_id"])
        elif event["type"] == "sla.task_closed":
            opened = [i for i in open_tasks.get(data["task_id"], []) if i in open_ids]
            if opened:
                expected[event["event_id"]] = ("close", opened)
                open_ids -= set(opened)
        elif data["retracted_event_id"] in open_ids:
            expected[event["event_id"]] = ("withdraw", [data["retracted_event_id"]])
            open_ids.discard(data["retracted_event_id"])
    return expected


@pytest.fixture
def notifier(
    kafka_bootstrap: str, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(prefix: str, webhook: str, group: str, log: Path) -> subprocess.Popen[bytes]:
        command = [sys.executable, str(NOTIFIER), "--bootstrap-servers", kafka_bootstrap]
        command += ["--prefix", prefix, "--webhook", webhook, "--db", str(tmp_path / "n.sqlite")]
        command += ["--group-id", group, "--instance-id", f"{group}-1"]
        with open(log, "ab") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_tasks_are_posted_once_per_key_across_a_kill_and_closed_tasks_are_closed(
    kafka_names: Callable[[], KafkaNames],
    kafka_io: KafkaIO,
    notifier: Callable[..., subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    # Given tasks, alerts, closes and retractions on the output topics, keyed by lead
    names = kafka_names()
    outputs = _replayed_outputs(tmp_path)
    events = outputs + _by_hand(outputs)
    by_topic: dict[str, list[tuple[bytes | None, bytes]]] = {}
    for event in events:
        topic = _topic(event)
        by_topic.setdefault(names.topic(topic), []).append(
            (event["lead_id"].encode(), orjson.dumps(event))
        )
    for topic, records in by_topic.items():
        kafka_io.produce(topic, records)
    expected = _expected(events)
    actions = Counter(action for action, _ in expected.values())
    assert actions["close"] >= 10 and actions["withdraw"] == 2 and actions["open"] >= 50
    log = tmp_path / "notifier.log"

    with Receiver(delay_s=0.03, fail_first=2) as receiver:
        # When the notifier runs, is killed with SIGKILL half-way, and starts again
        first = notifier(names.prefix, receiver.url, names.group_id, log)
        assert receiver.wait_for(lambda keys: len(keys) >= 25, timeout_s=30), log.read_text()
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        before_restart = set(receiver.keys())
        assert len(before_restart) < len(expected), "the kill came after the end: no test"
        second = notifier(names.prefix, receiver.url, names.group_id, log)
        assert receiver.wait_for(lambda keys: set(expected) <= set(keys), timeout_s=40), (
            f"missing {sorted(set(expected) - set(receiver.keys()))[:5]}; {log.read_text()[-3000:]}"
        )
        time.sleep(1.0)  # anything posted twice or by mistake shows up now
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=20) == 0

        # Then every expected key was posted at least once, and nothing else
        keys = receiver.keys()
        assert set(keys) == set(expected)
        # and at most one POST was repeated: the one in flight when the process died (its
        # delivery was not yet recorded in the SQLite file)
        repeats = len(keys) - len(set(keys))
        assert repeats <= 1, Counter(keys).most_common(3)
        # and the receiver's first 503s were retried
        assert receiver.refused == 2
        # and each close or withdrawal names what the notifier opened for that task or alert
        bodies = receiver.bodies()
        for key, (action, opened) in expected.items():
            assert bodies[key]["action"] == action
            assert bodies[key]["event"]["event_id"] == key
            if action != "open":
                assert bodies[key]["opened_event_ids"] == opened
        # and suppressed ones were never posted
        assert not {"hand-suppressed-alert", "hand-suppressed-task", "hand-close-1"} & set(keys)

        # When a notifier with a fresh consumer group reads every event again, same SQLite file
        posted = len(keys)
        again = tmp_path / "again.log"
        third = notifier(names.prefix, receiver.url, names.group_id + "-again", again)
        deadline = time.monotonic() + 30
        handled = 0
        while time.monotonic() < deadline and handled < len(events):
            handled = again.read_text().count(": already handled")
            time.sleep(0.1)
        third.send_signal(signal.SIGTERM)
        assert third.wait(timeout=20) == 0
        # Then it recognised every event as delivered and posted nothing
        assert handled == len(events), again.read_text()[-2000:]
        assert len(receiver.keys()) == posted

    # and the file says which tasks are closed and which task and alert were withdrawn
    with sqlite3.connect(tmp_path / "n.sqlite") as db:
        statuses = dict(db.execute("SELECT event_id, status FROM opened").fetchall())
    closed = {i for action, opened in expected.values() if action == "close" for i in opened}
    assert {statuses[i] for i in closed} == {"closed"}
    withdrawn = [o[0] for action, o in expected.values() if action == "withdraw"]
    assert [statuses[i] for i in withdrawn] == ["withdrawn", "withdrawn"]
