"""Shared pieces of the live worker benchmarks (``bench/bench_worker.py``); not a test.

A broker (ours from ``devtools.kafka_local``, or one named by ``--bootstrap``), fresh topic
prefixes and app ids, the worker as a subprocess (``python -m leadsla.cli worker``), bulk
producing with aiokafka (acks=all), reading topics to their end with kafka-python, the consumer
group's committed offsets, the worker's Prometheus metrics, RSS, percentiles and tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # devtools/ is not an installed package
    sys.path.insert(0, str(ROOT))

INPUTS = ("leads.created", "leads.ownership", "leads.activity")
OUTPUTS = ("sla.alerts", "sla.tasks", "sla.measurements", "sla.facts", "sla.dlq")
TOPIC_OF_TYPE = {"lead.created": "leads.created", "lead.owner_assigned": "leads.ownership"}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def input_topic(event_type: str) -> str:
    """SPEC section 2's default topic of an input type."""
    return TOPIC_OF_TYPE.get(event_type, "leads.activity")


# --------------------------------------------------------------------------- the broker


@contextlib.contextmanager
def broker(bootstrap: str | None, state_file: Path) -> Iterator[str]:
    """``bootstrap`` if given, else a local broker started (and stopped) with ``state_file``."""
    if bootstrap:
        yield bootstrap
        return
    py = sys.executable
    cmd = [py, "-m", "devtools.kafka_local"]
    status = subprocess.run(
        [*cmd, "status", "--state-file", str(state_file)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    running = json.loads(state_file.read_text()) if state_file.exists() else {}
    if status.returncode == 0 and running.get("bootstrap"):
        log(f"reusing the running broker at {running['bootstrap']} ({state_file})")
        yield str(running["bootstrap"])
        return
    out = subprocess.run(
        [*cmd, "start", "--state-file", str(state_file)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    address = out.stdout.strip().splitlines()[-1]
    log(f"local broker at {address}")
    try:
        yield address
    finally:
        subprocess.run(
            [*cmd, "stop", "--state-file", str(state_file)], cwd=ROOT, check=False, timeout=120
        )


def broker_log_dir(state_file: Path) -> Path | None:
    """The local broker's data folder (from its state file), for topic sizes on disk."""
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None
    for key in ("log_dir", "data_dir", "run_dir"):
        if key in state:
            return Path(state[key])
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def fresh_name(kind: str) -> str:
    return f"bench-{kind}-{uuid.uuid4().hex[:8]}"


def create_topics(bootstrap: str, prefix: str, partitions: int) -> None:
    from leadsla.settings import Settings
    from leadsla.streams.admin import create_topics as create

    settings = Settings(bootstrap_servers=bootstrap, topic_prefix=prefix, partitions=partitions)
    result = create(settings)
    bad = {k: v for k, v in result.items() if v not in ("created", "exists")}
    if bad:
        raise SystemExit(f"bench: cannot create topics: {bad}")


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()


# --------------------------------------------------------------------------- producing


Record = tuple[str, bytes, bytes]  # topic (full name), key, value


async def _produce(bootstrap: str, records: Iterable[Record], chunk: int) -> int:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=256 * 1024
    )
    await producer.start()
    count = 0
    try:
        pending: list[asyncio.Future[Any]] = []
        for topic, key, value in records:
            pending.append(await producer.send(topic, value, key=key))
            count += 1
            if len(pending) >= chunk:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return count


def produce(bootstrap: str, records: Iterable[Record], chunk: int = 20_000) -> int:
    """Send every record (acks=all) and wait for all acknowledgements; returns the count."""
    return asyncio.run(_produce(bootstrap, records, chunk))


class Paced:
    """A producer for paced sends from a synchronous loop (kafka-python, acks=all)."""

    def __init__(self, bootstrap: str) -> None:
        from kafka import KafkaProducer

        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.producer.send(topic, key=key, value=value)

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()


# --------------------------------------------------------------------------- offsets, reading


def end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        return {(tp.topic, tp.partition): off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


class GroupWatch:
    """Polls a consumer group's committed offsets (kafka-python admin client)."""

    def __init__(self, bootstrap: str) -> None:
        from kafka import KafkaAdminClient

        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        self.errors: set[str] = set()

    def committed(self, group: str) -> dict[tuple[str, int], int]:
        try:
            offsets = self.admin.list_group_offsets({group: None}).get(group, {})
        except Exception as exc:
            if type(exc).__name__ not in self.errors:
                self.errors.add(type(exc).__name__)
                log(f"committed offsets of {group}: {type(exc).__name__}: {exc}")
            return {}
        return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}

    def caught_up(self, group: str, ends: Mapping[tuple[str, int], int]) -> tuple[bool, int]:
        """(every partition of ``ends`` committed at its end, records committed so far)."""
        got = self.committed(group)
        done = 0
        ok = True
        for tp, end in ends.items():
            at = max(0, got.get(tp, 0))
            done += min(at, end)
            if at < end:
                ok = False
        return ok, done

    def close(self) -> None:
        self.admin.close()


@dataclass(frozen=True, slots=True)
class Out:
    topic: str
    key: bytes | None
    value: bytes
    timestamp_ms: int


def read_to_end(bootstrap: str, topics: Sequence[str], timeout_s: float = 300.0) -> list[Out]:
    """Every record of ``topics`` from the beginning to their current end offsets."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    out: list[Out] = []
    try:
        tps = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        ends = consumer.end_offsets(tps)
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        remaining = {tp for tp, end in ends.items() if end > 0}
        deadline = time.monotonic() + timeout_s
        while remaining and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500, max_records=50_000).items():
                for r in records:
                    out.append(Out(r.topic, r.key, r.value, r.timestamp))
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
            for tp in list(remaining):
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        if remaining:
            raise SystemExit(f"bench: could not read {sorted(map(str, remaining))} to the end")
    finally:
        consumer.close()
    return out


# --------------------------------------------------------------------------- the worker


def write_policy(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class WorkerProc:
    """``python -m leadsla.cli worker`` as a subprocess, with its own settings."""

    bootstrap: str
    prefix: str
    app_id: str
    policy: Path
    data_dir: Path
    log_path: Path
    store: str = "memory://"
    partitions: int = 4
    metrics_port: int = field(default_factory=free_port)
    extra_env: Mapping[str, str] = field(default_factory=dict)
    wrap: Sequence[str] = ()
    """A command to run the worker under (e.g. ``py-spy record -o F --``)."""
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "LEADSLA_BOOTSTRAP_SERVERS": self.bootstrap,
                "LEADSLA_TOPIC_PREFIX": self.prefix,
                "LEADSLA_APP_ID": self.app_id,
                "LEADSLA_PARTITIONS": str(self.partitions),
                "LEADSLA_DATA_DIR": str(self.data_dir),
                "LEADSLA_STORE": self.store,
                "LEADSLA_METRICS_PORT": str(self.metrics_port),
                "LEADSLA_LOG_LEVEL": "info",
            }
        )
        env.update(self.extra_env)
        return env

    def start(self) -> WorkerProc:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [*self.wrap, sys.executable, "-m", "leadsla.cli", "worker", "--policy"]
        with open(self.log_path, "ab") as out:
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(
                [*cmd, str(self.policy)],
                cwd=ROOT,
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def worker_pid(self) -> int:
        """The Python worker's pid (the child of the wrapper when there is one)."""
        if not self.wrap:
            return self.pid
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        except OSError:
            return self.pid
        return int(children[0]) if children else self.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 60.0) -> float:
        """SIGTERM (SIGINT to a wrapper, which passes it on), wait; seconds it took."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        started = time.monotonic()
        if self.wrap:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.worker_pid(), signal.SIGTERM)
        else:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log(f"worker {self.pid} did not stop within {timeout:g} s; killing it")
            os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait(30)
        return time.monotonic() - started

    def rss_mib(self) -> float:
        return rss_mib(self.worker_pid())

    def metrics(self) -> Metrics:
        return scrape(self.metrics_port)

    def wait_metrics(self, timeout_s: float = 120.0) -> Metrics:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise SystemExit(f"bench: the worker exited early, see {self.log_path}")
            with contextlib.suppress(OSError):
                return self.metrics()
            time.sleep(0.2)
        raise SystemExit(f"bench: no metrics from the worker in {timeout_s:g} s")


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (its threads included) so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dir_mib(path: Path) -> float:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, name))
    return total / 2**20


# --------------------------------------------------------------------------- metrics


@dataclass
class Metrics:
    """One scrape: samples by (name, sorted labels)."""

    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]

    def get(self, name: str, **labels: str) -> float:
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def total(self, name: str) -> float:
        return sum(v for (n, _labels), v in self.samples.items() if n == name)

    def buckets(self, name: str) -> list[tuple[float, float]]:
        """(le, cumulative count) of a histogram, +Inf last."""
        out = []
        for (n, labels), v in self.samples.items():
            if n == name + "_bucket":
                le = dict(labels)["le"]
                out.append((math.inf if le == "+Inf" else float(le), v))
        return sorted(out)


def scrape(port: int) -> Metrics:
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = float(s.value)
    return Metrics(samples)


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """Prometheus' ``histogram_quantile`` (linear inside the bucket) over cumulative buckets."""
    if not buckets or buckets[-1][1] == 0:
        return math.nan
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return buckets[-2][0]


# --------------------------------------------------------------------------- numbers


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100])."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Iterable[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return statistics.median(vals) if vals else math.nan


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return "-"
            if abs(value) >= 1000:
                return f"{value:,.0f}"
            if abs(value) >= 10:
                return f"{value:.1f}"
            return f"{value:.3f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def machine_line() -> str:
    load = os.getloadavg()
    cpus = len(os.sched_getaffinity(0))
    return f"{cpus} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start"


def collapse_profile(path: Path, top: int = 25) -> str:
    """Top frames (self and inclusive share of samples) of a py-spy ``--format raw`` file."""
    self_count: dict[str, int] = {}
    incl_count: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        self_count[frames[-1]] = self_count.get(frames[-1], 0) + count
        for frame in set(frames):
            incl_count[frame] = incl_count.get(frame, 0) + count
    if not total:
        return "(no samples)"

    def rows(counts: Mapping[str, int]) -> list[tuple[str, str]]:
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
        return [(f"{100 * c / total:.1f}%", frame[:150]) for frame, c in ranked]

    return (
        f"{total} samples\n\nself time:\n"
        + table(["share", "frame"], rows(self_count))
        + "\n\ninclusive time:\n"
        + table(["share", "frame"], rows(incl_count))
    )
