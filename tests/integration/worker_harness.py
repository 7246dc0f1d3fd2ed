"""Drive the real ``lead-sla worker`` on a real broker and hold it to SPEC section 8.

What a worker test needs, without faust in the test process:

- :class:`WorkerEnv`: the ``LEADSLA_*`` environment of one deployment (fresh topic prefix and app
  id per test) and ``create_topics`` for it;
- :class:`Worker`: one ``lead-sla worker --policy FILE`` subprocess (start, SIGTERM, kill -9, its
  log), each in its own process group, always ended on the way out;
- :class:`Feed`: a kafka-python producer (acks=all, murmur2 like Java) that routes input events to
  their default topic keyed by ``lead_id``, now or at their own ``occurred_at``;
- :class:`OutputLog`: everything the worker published on the five output topics, read
  incrementally (``poll``), with ``wait_quiet`` (no new output for a while);
- ``replay`` (``lead-sla replay`` in-process) and ``compare``: final facts (every field but
  ``version``) and standing alerts and tasks (neither retracted nor suppressed), live vs replay;
- small event factories on the wall clock (``at(seconds_from_now)``).

Times on the wire are RFC 3339 UTC with microseconds; internally int microseconds since the epoch.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

INPUT_TOPICS = ("leads.created", "leads.ownership", "leads.activity")
OUTPUT_TOPICS = ("sla.alerts", "sla.tasks", "sla.measurements", "sla.facts", "sla.dlq")
ALERT_TASK_TOPICS = ("sla.alerts", "sla.tasks")
RETRACTION = "sla.alert_retracted"
FACT = "sla.measured"
CE_HEADERS = ("ce_id", "ce_type", "ce_source", "ce_time", "ce_specversion", "content-type")
DEFAULT_ROUTES = {"lead.created": "leads.created", "lead.owner_assigned": "leads.ownership"}


# --------------------------------------------------------------------------- time


def now_us() -> int:
    return time.time_ns() // 1000


def iso(us: int) -> str:
    """Int microseconds since the epoch as RFC 3339 UTC (``...T09:00:00.250000Z``)."""
    moment = datetime.fromtimestamp(us // 1_000_000, tz=UTC).replace(microsecond=us % 1_000_000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without offset: {text!r}")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def at(seconds_from_now: float, base_us: int | None = None) -> str:
    """The instant ``seconds_from_now`` after ``base_us`` (default: now), as RFC 3339."""
    base = now_us() if base_us is None else base_us
    return iso(base + round(seconds_from_now * 1_000_000))


# --------------------------------------------------------------------------- input events


_seq = iter(range(1, 1 << 62))


def event(
    type_: str, lead_id: str, occurred_at: str, data: Mapping[str, Any], event_id: str | None = None
) -> dict[str, Any]:
    return {
        "event_id": event_id or f"in-{uuid.uuid4().hex[:8]}-{next(_seq)}",
        "type": type_,
        "lead_id": lead_id,
        "occurred_at": occurred_at,
        "data": dict(data),
    }


def created(
    lead_id: str, occurred_at: str, source: str = "web_form", **data: Any
) -> dict[str, Any]:
    return event("lead.created", lead_id, occurred_at, {"source": source, **data})


def assigned(lead_id: str, occurred_at: str, owner: str = "alice", **data: Any) -> dict[str, Any]:
    return event("lead.owner_assigned", lead_id, occurred_at, {"owner_id": owner, **data})


def answered(
    lead_id: str, occurred_at: str, actor: str = "alice", kind: str = "email", **data: Any
) -> dict[str, Any]:
    payload = {"actor_id": actor, "actor_kind": "person", "kind": kind, **data}
    return event("lead.activity_logged", lead_id, occurred_at, payload)


POLICY_HEAD = 'default_manager = "mgr"\nalert_horizon_minutes = 525600\n'
ROSTER = '\n[roster.alice]\nbackup = "bob"\nmanager = "carol"\n'


def policy_toml(
    window_s: float,
    *,
    grace_s: float = 0.0,
    version: str | None = None,
    extra: str = "",
) -> str:
    """A calendar policy whose one window is ``window_s`` seconds (and ``grace_s``)."""
    head = f'version = "{version}"\n' if version else ""
    return (
        f"{head}{POLICY_HEAD}grace_seconds = {grace_s!r}\n{extra}{ROSTER}\n"
        f"[[targets]]\nminutes = {window_s / 60!r}\n"
    )


# --------------------------------------------------------------------------- the deployment


@dataclass
class WorkerEnv:
    """One deployment's ``LEADSLA_*`` settings (fresh prefix and app id by default)."""

    bootstrap: str
    data_root: Path
    partitions: int = 2
    store: str = "memory://"
    held_timeout_s: float = 60.0
    log_level: str = field(
        default_factory=lambda: os.environ.get("LEADSLA_TEST_WORKER_LOG_LEVEL", "warning")
    )
    """The workers' log level (LEADSLA_TEST_WORKER_LOG_LEVEL=info or debug to diagnose)."""
    prefix: str = field(default_factory=lambda: f"t-{uuid.uuid4().hex[:10]}.")
    app_id: str = field(default_factory=lambda: f"wt-{uuid.uuid4().hex[:10]}")
    extra: dict[str, str] = field(default_factory=dict)

    def topic(self, suffix: str) -> str:
        return self.prefix + suffix

    def environ(self, data_dir: Path) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("LEADSLA_")}
        env.update(
            {
                "LEADSLA_BOOTSTRAP_SERVERS": self.bootstrap,
                "LEADSLA_TOPIC_PREFIX": self.prefix,
                "LEADSLA_APP_ID": self.app_id,
                "LEADSLA_PARTITIONS": str(self.partitions),
                "LEADSLA_SESSION_TIMEOUT_S": "6",
                "LEADSLA_HEARTBEAT_INTERVAL_S": "0.5",
                "LEADSLA_REBALANCE_TIMEOUT_S": "6",
                "LEADSLA_DATA_DIR": str(data_dir),
                "LEADSLA_STORE": self.store,
                "LEADSLA_HELD_TIMEOUT_S": repr(self.held_timeout_s),
                "LEADSLA_LOG_LEVEL": self.log_level,
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra)
        return env

    def create_topics(self) -> dict[str, str]:
        """``lead-sla topics create`` for this deployment (in-process, same settings)."""
        from leadsla.settings import Settings
        from leadsla.streams.admin import create_topics

        settings = Settings.from_env(self.environ(self.data_root))
        return create_topics(settings)


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn: the kernel SIGKILLs the worker when the test process dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG

    return preexec


class Worker:
    """One ``lead-sla worker`` subprocess in its own process group; its output goes to a file."""

    def __init__(
        self, env: WorkerEnv, policy_path: Path, name: str = "w1", prelude: str = ""
    ) -> None:
        self.env = env
        self.policy_path = policy_path
        self.name = name
        self.prelude = prelude
        """Python run in the worker's process before the CLI (a fault injected into faust)."""
        self.data_dir = env.data_root / f"data-{name}"
        self.log_path = env.data_root / f"worker-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Worker:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start {self.starts} at {iso(now_us())} =====\n".encode())
            log.flush()
            command = [sys.executable, "-m", "leadsla.cli"]
            if self.prelude:
                main = "import sys\nfrom leadsla.cli import main\nsys.exit(main(sys.argv[1:]))\n"
                command = [sys.executable, "-c", self.prelude + "\n" + main]
            self.process = subprocess.Popen(
                [*command, "worker", "--policy", str(self.policy_path)],
                env=self.env.environ(self.data_dir),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM; SIGKILL after ``timeout_s``. The exit code (None if it had to be killed)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        self._reap_group()
        return self.process.returncode

    def terminate(self) -> None:
        """SIGTERM, without waiting (``stop`` waits)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)

    def kill(self) -> None:
        """kill -9 of the worker and anything it started (its process group)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def _reap_group(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def log_text(self, tail_lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-tail_lines:])

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop(timeout_s=15)
        self.kill()


@contextlib.contextmanager
def workers(*items: Worker) -> Iterator[tuple[Worker, ...]]:
    """Always end every worker (SIGTERM, then kill -9 of its group) on the way out."""
    try:
        yield items
    finally:
        for item in items:  # SIGTERM to all first: they stop side by side
            item.terminate()
        for item in items:
            item.stop(timeout_s=15)
            item.kill()


def group_members(bootstrap: str, group_id: str) -> tuple[str, int]:
    """(state, member count) of a consumer group, ``("?", 0)`` when it cannot be described."""
    from kafka import KafkaAdminClient

    # faust's own assignment protocol: kafka-python cannot decode its member metadata (harmless)
    logging.getLogger("kafka.admin").setLevel(logging.ERROR)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=5000, client_id="worker-harness"
        )
    except Exception:
        return "?", 0
    try:
        found = admin.describe_groups([group_id])
    except Exception:
        return "?", 0
    finally:
        admin.close()
    info = found.get(group_id, {}) if isinstance(found, dict) else {}
    return str(info.get("group_state", "?")), len(info.get("members", []) or [])


def wait_group_stable(
    bootstrap: str, group_id: str, members: int, timeout_s: float, *procs: Worker
) -> None:
    """Wait until the worker group is Stable with ``members`` members; fail with the logs."""
    deadline = time.monotonic() + timeout_s
    state: tuple[str, int] = ("?", 0)
    while time.monotonic() < deadline:
        for proc in procs:
            assert proc.alive, f"worker {proc.name} exited early:\n{proc.log_text()}"
        state = group_members(bootstrap, group_id)
        if state == ("Stable", members):
            return
        time.sleep(0.3)
    logs = "\n".join(f"--- {p.name}:\n{p.log_text()}" for p in procs)
    raise AssertionError(
        f"group {group_id} not Stable with {members} members in {timeout_s}s: {state}\n{logs}"
    )


# --------------------------------------------------------------------------- inputs


def route(event_: Mapping[str, Any]) -> str:
    """The default input topic of an event (SPEC section 2)."""
    return DEFAULT_ROUTES.get(str(event_.get("type")), "leads.activity")


class Feed:
    """A kafka-python producer (acks=all) onto one deployment's input topics."""

    def __init__(self, env: WorkerEnv) -> None:
        from kafka import KafkaProducer

        self.env = env
        self.producer = KafkaProducer(
            bootstrap_servers=env.bootstrap,
            acks="all",
            linger_ms=5,
            max_request_size=2_000_000,
            retries=2_147_483_647,  # bounded by delivery_timeout_ms
            retry_backoff_ms=200,
            delivery_timeout_ms=60_000,
            request_timeout_ms=30_000,
        )
        self.sent = 0
        self.pending: list[Any] = []

    def send(self, event_: Mapping[str, Any]) -> None:
        """Queue one event on its default topic, keyed by its lead (``flush`` waits for it)."""
        key = str(event_["lead_id"]).encode()
        future = self.producer.send(
            self.env.topic(route(event_)), key=key, value=orjson.dumps(event_)
        )
        self.pending.append(future)
        self.sent += 1

    def send_raw(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes | None]] = (),
    ) -> tuple[int, int]:
        """Send one record and wait for it: its (partition, offset). kafka-python takes no null
        header value: one is sent empty."""
        pairs = [(name, b"" if raw is None else raw) for name, raw in headers]
        future = self.producer.send(topic, key=key, value=value, headers=pairs or None)
        self.sent += 1
        metadata = future.get(timeout=30)
        return int(metadata.partition), int(metadata.offset)

    def send_all(self, events: Iterable[Mapping[str, Any]]) -> None:
        for item in events:
            self.send(item)
        self.flush()

    def flush(self) -> None:
        """Wait until the broker has every event sent so far; raise if one could not be sent
        (an input the test thinks it produced must really be there)."""
        self.producer.flush(timeout=90)
        pending, self.pending = self.pending, []
        for future in pending:
            future.get(timeout=30)

    def send_on_time(
        self, events: Sequence[Mapping[str, Any]], stop: threading.Event | None = None
    ) -> None:
        """Each event at its own ``occurred_at`` on the wall clock (past ones at once), in
        ``occurred_at`` order (ties in the given order)."""
        ordered = sorted(
            enumerate(events), key=lambda pair: (parse_iso(str(pair[1]["occurred_at"])), pair[0])
        )
        for _, item in ordered:
            due = parse_iso(str(item["occurred_at"]))
            wait = (due - now_us()) / 1e6
            if wait > 0:
                self.flush()
                if stop is not None:
                    if stop.wait(wait):
                        return
                else:
                    time.sleep(wait)
            self.send(item)
        self.flush()

    def close(self) -> None:
        self.producer.close(timeout=10)

    def __enter__(self) -> Feed:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --------------------------------------------------------------------------- outputs


@dataclass
class Out:
    """One record the worker published (its JSON value parsed once, on arrival)."""

    topic: str  # without the prefix
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int
    body: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        try:
            parsed = orjson.loads(self.value)
        except orjson.JSONDecodeError:
            parsed = None
        self.body = parsed if isinstance(parsed, dict) else {}

    @property
    def type(self) -> str:
        return str(self.body.get("type"))

    @property
    def event_id(self) -> str:
        return str(self.body.get("event_id"))


class OutputLog:
    """Every record on the deployment's output topics, from the start, read as it comes."""

    def __init__(self, env: WorkerEnv, topics: Sequence[str] = OUTPUT_TOPICS) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self.env = env
        self.watched: list[Worker] = []  # their logs go into wait_for's failure message
        self.records: list[Out] = []
        self.by_type: dict[str, list[dict[str, Any]]] = {}
        """Envelopes by type, in arrival order (sla.dlq and the sla.facts copies left out)."""
        self.facts: dict[str, tuple[int, dict[str, Any]]] = {}
        """lead_id -> (version, data) of its highest-version sla.measured so far."""
        self.last_new = time.monotonic()
        self.consumer = KafkaConsumer(
            bootstrap_servers=env.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_bytes=8_000_000,
            max_partition_fetch_bytes=4_000_000,
        )
        parts = []
        deadline = time.monotonic() + 30
        for suffix in topics:
            found = self.consumer.partitions_for_topic(env.topic(suffix))
            while not found and time.monotonic() < deadline:
                time.sleep(0.3)
                found = self.consumer.partitions_for_topic(env.topic(suffix))
            assert found, f"output topic {env.topic(suffix)} does not exist"
            parts += [TopicPartition(env.topic(suffix), p) for p in sorted(found)]
        self.consumer.assign(parts)
        self.consumer.seek_to_beginning(*parts)

    def poll(self, timeout_s: float = 0.3) -> int:
        """Read what is there; the number of new records."""
        batches = self.consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=50_000)
        new = 0
        cut = len(self.env.prefix)
        for tp, messages in batches.items():
            for m in messages:
                record = Out(
                    tp.topic[cut:],
                    tp.partition,
                    m.offset,
                    m.key,
                    m.value,
                    tuple((k, bytes(v or b"")) for k, v in (m.headers or [])),
                    m.timestamp,
                )
                self.records.append(record)
                self._index(record)
                new += 1
        if new:
            self.last_new = time.monotonic()
        return new

    def _index(self, record: Out) -> None:
        if record.topic in ("sla.dlq", "sla.facts"):
            return
        body = record.body
        self.by_type.setdefault(record.type, []).append(body)
        if record.type == FACT:
            lead = str(body.get("lead_id"))
            version = int(body["data"]["version"])
            if lead not in self.facts or version > self.facts[lead][0]:
                self.facts[lead] = (version, body["data"])

    def drain(self, quiet_s: float = 1.0, timeout_s: float = 30.0) -> None:
        """Poll until nothing new came for ``quiet_s`` (or ``timeout_s`` passed)."""
        self.wait_quiet(quiet_s, not_before_us=0, timeout_s=timeout_s)

    def wait_quiet(self, quiet_s: float, not_before_us: int, timeout_s: float) -> int:
        """Poll until the wall clock is past ``not_before_us`` and nothing new came for
        ``quiet_s`` seconds; returns that moment (int µs): the instant to compare at."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.poll(0.2)
            quiet_for = time.monotonic() - self.last_new
            if now_us() >= not_before_us and quiet_for >= quiet_s:
                return now_us()
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"outputs never went quiet for {quiet_s}s within {timeout_s}s "
                    f"({len(self.records)} records so far)"
                )

    def wait_for(
        self, predicate: Any, timeout_s: float, what: str = "the expected output"
    ) -> list[Out]:
        """Poll until ``predicate(records)`` is true; the records."""
        deadline = time.monotonic() + timeout_s
        while not predicate(self.records):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout_s}s waiting for {what}; outputs so far: "
                    f"{dict(type_counts(self.records))}; dead letters: "
                    f"{dlq_reasons(self.records)[:5]}"
                    + "".join(f"\n--- worker {w.name}:\n{w.log_text(30)}" for w in self.watched)
                )
            self.poll(0.2)
        return self.records

    def on(self, topic: str) -> list[Out]:
        return [r for r in self.records if r.topic == topic]

    def of_type(self, type_: str, lead_id: str | None = None) -> list[dict[str, Any]]:
        found = self.by_type.get(type_, [])
        if lead_id is None:
            return list(found)
        return [body for body in found if body.get("lead_id") == lead_id]

    def watch(self, *procs: Worker) -> OutputLog:
        self.watched += procs
        return self

    def close(self) -> None:
        self.consumer.close()

    def __enter__(self) -> OutputLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --------------------------------------------------------------------------- replay


def write_jsonl(path: Path, events: Iterable[Mapping[str, Any]]) -> Path:
    with open(path, "wb") as out:
        for item in events:
            out.write(orjson.dumps(item) + b"\n")
    return path


def replay(
    events: Sequence[Mapping[str, Any]], policy_path: Path, now: int, workdir: Path
) -> list[dict[str, Any]]:
    """``lead-sla replay EVENTS --policy P --now T --out F`` (in-process); the outputs."""
    from leadsla import cli

    workdir.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:6]
    events_path = write_jsonl(workdir / f"replay-in-{tag}.jsonl", events)
    out_path = workdir / f"replay-out-{tag}.jsonl"
    argv = ["replay", str(events_path), "--policy", str(policy_path), "--now", iso(now)]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main([*argv, "--out", str(out_path)])
    assert code == 0, f"replay failed ({code}): {err.getvalue()[-2000:]}"
    return [json.loads(line) for line in out_path.read_text().splitlines() if line.strip()]


def last_instant(outputs: Iterable[Mapping[str, Any]]) -> int:
    """The latest ``occurred_at`` among outputs (0 when none)."""
    return max((parse_iso(str(o["occurred_at"])) for o in outputs), default=0)


# --------------------------------------------------------------------------- section 8


def _strip_version(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "version"}


def live_final_facts(records: Iterable[Out], topic: str = "sla.measurements") -> dict[str, Any]:
    """lead_id -> ``data`` of its highest-``version`` ``sla.measured`` (version removed)."""
    best: dict[str, tuple[int, dict[str, Any]]] = {}
    for r in records:
        if r.topic != topic:
            continue
        body = r.body
        if body.get("type") != FACT:
            continue
        lead = str(body["lead_id"])
        version = int(body["data"]["version"])
        if lead not in best or version > best[lead][0]:
            best[lead] = (version, body["data"])
    return {lead: _strip_version(data) for lead, (_, data) in best.items()}


def replay_final_facts(outputs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    best: dict[str, tuple[int, dict[str, Any]]] = {}
    for o in outputs:
        if o.get("type") != FACT:
            continue
        lead = str(o["lead_id"])
        version = int(o["data"]["version"])
        if lead not in best or version > best[lead][0]:
            best[lead] = (version, o["data"])
    return {lead: _strip_version(data) for lead, (_, data) in best.items()}


def live_standing(records: Iterable[Out]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Standing alerts and tasks: event_id -> envelope, neither retracted nor suppressed.

    Walked per topic and partition in offset order (a lead's records are in order), so an
    alert published again after its retraction stands again. Also returns the problems seen
    (a retraction of an unknown id, a repeat with other content).
    """
    problems: list[str] = []
    standing: dict[str, dict[str, Any]] = {}
    seen: dict[str, bytes] = {}
    ordered = sorted(
        (r for r in records if r.topic in ALERT_TASK_TOPICS),
        key=lambda r: (r.topic, r.partition, r.offset),
    )
    for r in ordered:
        body = r.body
        eid = str(body.get("event_id"))
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        if eid in seen and seen[eid] != canonical:
            problems.append(f"event_id {eid} published twice with different content")
        seen.setdefault(eid, canonical)
        if body.get("type") == RETRACTION:
            target = str(body["data"].get("retracted_event_id"))
            if target not in seen:
                problems.append(f"retraction {eid} of {target}, never published on {r.topic}")
            standing.pop(target, None)
            continue
        if body.get("data", {}).get("suppressed") is True:
            continue
        standing[eid] = body
    return standing, problems


def replay_alerts_and_tasks(outputs: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    from leadsla.schemas.outputs import topics_for

    found: dict[str, dict[str, Any]] = {}
    for o in outputs:
        topics = topics_for(str(o["type"]), o["data"])
        if any(t in ALERT_TASK_TOPICS for t in topics):
            found[str(o["event_id"])] = dict(o)
    return found


def _short(value: Any, limit: int = 600) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def compare(
    records: Sequence[Out],
    replay_outputs: Sequence[Mapping[str, Any]],
    leads: Iterable[str] | None = None,
    limit: int = 25,
) -> list[str]:
    """SPEC section 8, live vs replay: the differences, as readable lines (empty: equal).

    ``leads``: compare only these leads (default: every lead either side knows).
    """
    wanted = set(leads) if leads is not None else None

    def keep(lead: str) -> bool:
        return wanted is None or lead in wanted

    diffs: list[str] = []
    live_facts = {k: v for k, v in live_final_facts(records).items() if keep(k)}
    want_facts = {k: v for k, v in replay_final_facts(replay_outputs).items() if keep(k)}
    for lead in sorted(set(live_facts) | set(want_facts)):
        got, want = live_facts.get(lead), want_facts.get(lead)
        if got == want:
            continue
        if got is None or want is None:
            diffs.append(f"fact {lead}: live {_short(got)} | replay {_short(want)}")
            continue
        fields = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
        detail = ", ".join(f"{k}: live {got.get(k)!r} vs replay {want.get(k)!r}" for k in fields)
        diffs.append(f"fact {lead}: {detail}")
    standing, problems = live_standing(records)
    diffs += problems
    live_alerts = {k: v for k, v in standing.items() if keep(str(v.get("lead_id")))}
    want_alerts = {
        k: v
        for k, v in replay_alerts_and_tasks(replay_outputs).items()
        if keep(str(v.get("lead_id")))
    }
    for eid in sorted(set(live_alerts) | set(want_alerts)):
        got_a, want_a = live_alerts.get(eid), want_alerts.get(eid)
        if got_a == want_a:
            continue
        if got_a is None:
            assert want_a is not None
            diffs.append(f"missing live {want_a['type']} {want_a['lead_id']}: {_short(want_a)}")
        elif want_a is None:
            diffs.append(f"extra live {got_a['type']} {got_a['lead_id']}: {_short(got_a)}")
        else:
            diffs.append(f"{eid} differs: live {_short(got_a)} | replay {_short(want_a)}")
    if len(diffs) > limit:
        diffs = [*diffs[:limit], f"... and {len(diffs) - limit} more differences"]
    return diffs


def repeats_with_other_ids(records: Iterable[Out]) -> list[str]:
    """Outputs published more than once must carry the same event_id: the same (topic, type,
    lead, occurred_at, data) under two ids is a repeat that a consumer cannot drop.
    ``sla.measured`` is left out (its ``version`` grows on purpose)."""
    ids: dict[bytes, set[str]] = {}
    for r in records:
        if r.topic in ("sla.dlq", "sla.facts"):
            continue
        body = r.body
        if body.get("type") == FACT:
            continue
        content = {k: v for k, v in body.items() if k != "event_id"}
        key = r.topic.encode() + orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
        ids.setdefault(key, set()).add(str(body.get("event_id")))
    return [f"{sorted(found)}: {key[:300]!r}" for key, found in ids.items() if len(found) > 1]


def same_id_other_content(records: Iterable[Out]) -> list[str]:
    """An event_id must always come with the same content (facts included)."""
    seen: dict[tuple[str, str], bytes] = {}
    problems = []
    for r in records:
        if r.topic == "sla.dlq":
            continue
        body = r.body
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        key = (r.topic, str(body.get("event_id")))
        if key in seen and seen[key] != canonical:
            problems.append(f"{key}: {seen[key][:300]!r} then {canonical[:300]!r}")
        seen.setdefault(key, canonical)
    return problems


def versions_reused(records: Iterable[Out]) -> list[str]:
    """A lead's fact version must never come back with other content: a consumer keeps the
    highest version it saw ("highest version wins"), so a reused version would hide the newer
    fact (a crash between publishing a batch and storing its states must not cause it)."""
    seen: dict[tuple[str, int], bytes] = {}
    problems = []
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        if r.topic != "sla.measurements" or r.type != FACT:
            continue
        data = r.body["data"]
        canonical = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
        key = (str(r.body["lead_id"]), int(data["version"]))
        if key in seen and seen[key] != canonical:
            problems.append(f"{key}: {seen[key][:300]!r} then {canonical[:300]!r}")
        seen.setdefault(key, canonical)
    return problems


def missing_ce_headers(records: Iterable[Out]) -> list[str]:
    """Output records without every CloudEvents binary-mode header (or with a wrong ce_id)."""
    problems = []
    for r in records:
        names = {k for k, _ in r.headers}
        lacking = [h for h in CE_HEADERS if h not in names]
        if lacking:
            problems.append(f"{r.topic}@{r.partition}:{r.offset} lacks {lacking}")
            continue
        if r.topic == "sla.dlq":
            continue
        ce_id = dict(r.headers)["ce_id"].decode(errors="replace")
        if ce_id != r.event_id:
            problems.append(f"{r.topic}@{r.partition}:{r.offset} ce_id {ce_id} != {r.event_id}")
    return problems


def open_leads(feed: Feed, log: OutputLog, leads: list[str], base: int) -> list[dict[str, Any]]:
    """Send each lead's ``lead.created`` and owner assignment at ``base``; wait (60 s at most)
    until every lead's timer started. The events sent."""
    events = []
    for lead in leads:
        events += [created(lead, at(0, base)), assigned(lead, at(0, base))]
    feed.send_all(events)
    log.wait_for(
        lambda _: {t["lead_id"] for t in log.of_type("sla.timer_started")} >= set(leads),
        60,
        "the timers of every lead",
    )
    return events


def type_counts(records: Iterable[Out]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for r in records:
        if r.topic == "sla.dlq":
            counts["dlq"] += 1
        elif r.topic != "sla.facts":
            counts[r.type] += 1
    return counts


# --------------------------------------------------------------------------- one-call set-up


def write_policy(env: WorkerEnv, text: str, name: str = "policy.toml") -> Path:
    path = env.data_root / name
    path.write_text(text, encoding="utf-8")
    return path


def launch(env: WorkerEnv, policy_path: Path, *names: str, timeout_s: float = 90) -> list[Worker]:
    """Create the topics, start one worker per name (default one, ``w1``) in one group and
    wait until the group is Stable with all of them."""
    env.create_topics()
    procs = [Worker(env, policy_path, name) for name in (names or ("w1",))]
    for proc in procs:
        proc.start()
    try:
        wait_group_stable(env.bootstrap, env.app_id, len(procs), timeout_s, *procs)
    except BaseException:
        for proc in procs:
            proc.kill()
        raise
    return procs


def facts_of(log: OutputLog) -> dict[str, Any]:
    """The worker's latest fact per lead so far (``version`` removed)."""
    return {lead: _strip_version(data) for lead, (_, data) in log.facts.items()}


def restart_session_broker(bootstrap: str) -> str:
    """Restart the test session's broker on the same port and data (``devtools.kafka_local``).

    The session's own local broker when this process started it; else the broker named by the
    state file in ``LEADSLA_KAFKA_STATE_FILE`` (``python -m devtools.kafka_local start
    --state-file F``, with ``KAFKA_BOOTSTRAP_SERVERS`` pointing at it). Skips (fails under
    ``CI=true``) when neither applies: a foreign broker is not ours to restart.
    """
    import pytest

    from devtools.kafka_local import local_broker_at, restart_from_state

    broker = local_broker_at(bootstrap)
    if broker is not None:
        return broker.restart()
    state_file = os.environ.get("LEADSLA_KAFKA_STATE_FILE")
    if state_file:
        return restart_from_state(Path(state_file))
    message = f"the broker at {bootstrap} was not started by this test session: not ours to restart"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def dlq_reasons(records: Iterable[Out]) -> list[str]:
    """``lead_id``/``event_id``: reason, of every dead letter."""
    found = []
    for r in records:
        if r.topic == "sla.dlq":
            letter = orjson.loads(r.value)
            found.append(
                f"{letter.get('lead_id')}/{letter.get('event_id')}: {letter.get('reason')}"
            )
    return found


def dump_records(records: Iterable[Out], path: Path) -> Path:
    """The records as JSON lines (topic, partition, offset, timestamp, body) for a post-mortem."""
    with open(path, "wb") as out:
        for r in records:
            row = {
                "topic": r.topic,
                "partition": r.partition,
                "offset": r.offset,
                "timestamp_ms": r.timestamp_ms,
                "body": r.body or r.value[:2000].decode("utf-8", "replace"),
            }
            out.write(orjson.dumps(row) + b"\n")
    return path
