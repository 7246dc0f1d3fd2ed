"""A local Apache Kafka broker without Docker: KRaft, one combined broker+controller on 127.0.0.1.

This module owns everything about that broker: fetching its jars from Maven Central into a cache
reused by later runs, writing its configuration into a fresh temporary folder, formatting the
storage, running ``kafka.Kafka`` as a child process in its own process group, waiting until it
really answers, and stopping it again (SIGTERM, then SIGKILL) and removing its data.

Command line (from the repository root, with the project's virtualenv)::

    python -m devtools.kafka_local fetch  [--version V]          # jars only, prints the lib folder
    python -m devtools.kafka_local start  [--version V] [--state-file F] [--timeout S]
    python -m devtools.kafka_local status [--state-file F]
    python -m devtools.kafka_local stop   [--state-file F]
    python -m devtools.kafka_local restart [--state-file F] [--timeout S] [--down S]

``start`` prints only the bootstrap address (``127.0.0.1:PORT``) on standard output, so
``BOOTSTRAP=$(python -m devtools.kafka_local start)`` works; progress goes to standard error. The
state file (default ``<cache root>/local-broker.json``) lets ``status`` and ``stop`` find the
broker from another process.

A second listener, SASL_PLAINTEXT with SCRAM-SHA-512, is on by default (``LEADSLA_KAFKA_SCRAM=0``
turns it off): its user is created when the storage is formatted (``StorageTool format
--add-scram``, KRaft keeps SCRAM credentials in the metadata log), with a random password made
for each start. Its address, user and password are in the state file (``scram_bootstrap``,
``scram_username``, ``scram_password``: a throwaway test broker's login, never printed), and on
the ``LocalKafka`` object (``local_broker(bootstrap)`` finds a broker this process started).
When ``openssl`` is on PATH (and ``LEADSLA_KAFKA_SSL`` is not 0) a third listener, SASL_SSL with
the same user, serves a certificate for 127.0.0.1 signed by a CA made for this start
(``ssl_bootstrap``, ``ssl_cafile`` in the state file; a PEM key store, no Java keytool).
Inter-broker and controller traffic stay on PLAINTEXT.

Python::

    with LocalKafka() as kafka:     # the broker dies with this process, even on kill -9
        use(kafka.bootstrap)
        kafka.restart()             # same port, same data: clients see an outage, then carry on

``restart`` (CLI) and ``LocalKafka.restart()`` stop the broker and start it again on the same
port with the same data folder (topics, records and committed offsets survive);
``local_broker_at(bootstrap)`` finds a broker this process started by its address (the
integration tests' session broker), to restart it.

Settings: ``KAFKA_VERSION`` (or ``--version``; default 3.9.2) and ``LEADSLA_KAFKA_CACHE`` (the
cache root; default ``<repo>/.cache/kafka``; jars go to ``<root>/<version>/lib``). Optional:
``LEADSLA_KAFKA_JAVA_OPTS`` (extra JVM options), ``LEADSLA_KAFKA_LOG_LEVEL`` (broker log level,
default INFO; the log is ``server.log`` in the broker's temporary folder).

Versions tried (Java 17): 3.9.2, 4.1.1, 4.2.0 and 4.4.0 all pass ``tests/integration`` with
aiokafka 0.14.0, faust-streaming 0.15.3 and kafka-python 3.0.12. Per major version only the
logging backend differs (3.x: reload4j; 4.x: Log4j2 plus its slf4j 1.7 binding) and 4.x gets
the share-coordinator replication settings; a static ``controller.quorum.voters`` with a plain
``StorageTool format`` works on all of them.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import ctypes
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

DEFAULT_VERSION = "3.9.2"
REPO_ROOT = Path(__file__).resolve().parent.parent
RUN_DIR_PREFIX = "leadsla-kafka-"
HIDDEN_PREFIX = "leadsla-restarting-"  # a broker folder while its broker restarts

# Pinned so a fetch does not depend on which plugin version the local Maven defaults to.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
# Kafka 3.x core brings slf4j-api 1.7 but no logging backend.
LOGGING_3X = (
    ("ch.qos.reload4j", "reload4j", "1.2.25"),
    ("org.slf4j", "slf4j-reload4j", "1.7.36"),
)
# Kafka 4.x core brings log4j-core/log4j-api 2.x and slf4j-api 1.7, but no slf4j binding: without
# this jar the broker runs silently (SLF4J falls back to NOP).
LOGGING_4X = (("org.apache.logging.log4j", "log4j-slf4j-impl", "2.24.3"),)

MAVEN_TIMEOUT_S = 900.0
FORMAT_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0

_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+(-[A-Za-z0-9.]+)?$")


class KafkaLocalError(RuntimeError):
    """The local broker could not be fetched, started or stopped; the message says why."""


def _log(message: str) -> None:
    print(f"[kafka-local] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- settings


def default_version() -> str:
    return os.environ.get("KAFKA_VERSION") or DEFAULT_VERSION


def cache_root() -> Path:
    env = os.environ.get("LEADSLA_KAFKA_CACHE")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / ".cache" / "kafka"


def default_state_file() -> Path:
    return cache_root() / "local-broker.json"


def _check_version(version: str) -> str:
    if not _VERSION_RE.match(version):
        raise KafkaLocalError(f"not a Kafka version: {version!r} (expected e.g. 3.9.2 or 4.1.1)")
    return version


def major_version(version: str) -> int:
    return int(version.split(".", 1)[0])


def lib_dir(version: str, root: Path | None = None) -> Path:
    return (root or cache_root()) / version / "lib"


# --------------------------------------------------------------------------- jars


def _pom(version: str) -> str:
    deps = [("org.apache.kafka", "kafka_2.13", version)]
    deps += list(LOGGING_4X if major_version(version) >= 4 else LOGGING_3X)
    dep_xml = "\n".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>"
        for g, a, v in deps
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by devtools/kafka_local.py: the jars of a local Kafka {version} broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>leadsla.devtools</groupId>
  <artifactId>kafka-local-broker</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
{dep_xml}
  </dependencies>
</project>
"""


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch_jars(
    version: str | None = None, root: Path | None = None, log: Callable[[str], None] = _log
) -> Path:
    """The folder holding the broker's jars, fetched with Maven on first use and reused after."""
    version = _check_version(version or default_version())
    root = root or cache_root()
    vdir = root / version
    lib = vdir / "lib"
    marker = vdir / "lib.complete"
    if marker.is_file() and lib.is_dir():
        return lib
    with _file_lock(vdir / ".lock"):
        if marker.is_file() and lib.is_dir():  # another process fetched while we waited
            return lib
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaLocalError(
                "Maven (mvn) is not on PATH; it fetches the Kafka jars (apt-get install maven)"
            )
        pom = vdir / "pom.xml"
        pom.write_text(_pom(version), encoding="utf-8")
        partial = vdir / "lib.partial"
        cmd = [
            mvn,
            "-B",
            "-q",
            "-Dstyle.color=never",
            "-f",
            str(pom),
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={partial}",
        ]
        started = time.monotonic()
        log(f"fetching Kafka {version} jars with Maven into {lib}")
        failure = ""
        for attempt in (1, 2):
            shutil.rmtree(partial, ignore_errors=True)
            # -U on the retry: Maven remembers a failed download and would not try it again.
            attempt_cmd = cmd if attempt == 1 else [cmd[0], "-U", *cmd[1:]]
            try:
                proc = subprocess.run(
                    attempt_cmd,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=MAVEN_TIMEOUT_S,
                    check=False,
                )
                output = (proc.stdout + proc.stderr).replace("\x1b[0m", "").strip()
                if proc.returncode == 0 and (partial / f"kafka_2.13-{version}.jar").is_file():
                    failure = ""
                    break
                failure = f"exit code {proc.returncode}\n{_tail(output, 40)}"
            except subprocess.TimeoutExpired:
                failure = f"no answer within {MAVEN_TIMEOUT_S:.0f} s"
            if attempt == 1:
                log(f"Maven fetch failed ({failure.splitlines()[0]}); retrying once")
                time.sleep(2)
        if failure:
            raise KafkaLocalError(
                f"fetching the Kafka {version} jars failed twice: {failure}\n"
                f"command: {' '.join(cmd)}"
            )
        shutil.rmtree(lib, ignore_errors=True)
        partial.rename(lib)
        jars = sorted(p.name for p in lib.glob("*.jar"))
        marker.write_text("\n".join(jars) + "\n", encoding="utf-8")
        log(f"fetched {len(jars)} jars in {time.monotonic() - started:.1f}s")
    return lib


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------- configuration


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


SCRAM_MECHANISM = "SCRAM-SHA-512"
SCRAM_USERNAME = "lead-sla"


def tls_enabled() -> bool:
    """The SASL_SSL listener is on when ``openssl`` is found, unless ``LEADSLA_KAFKA_SSL`` is
    0/false/no/off (it also needs the SCRAM user)."""
    setting = os.environ.get("LEADSLA_KAFKA_SSL", "1").strip().lower()
    return setting not in ("0", "false", "no", "off") and shutil.which("openssl") is not None


def make_tls_files(folder: Path, log: Callable[[str], None] = _log) -> tuple[Path, Path]:
    """A throwaway CA and a certificate for 127.0.0.1/localhost signed by it, made with
    ``openssl``: returns (the CA certificate, the broker's PEM key store: key + chain)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_pem = folder / "ca.key", folder / "ca.pem"
    key, csr, crt = folder / "broker.key", folder / "broker.csr", folder / "broker.crt"
    ext = folder / "broker.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n", encoding="utf-8")
    steps = [
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            ca_key,
            "-out",
            ca_pem,
            "-days",
            "7",
            "-subj",
            "/CN=lead-sla local test CA",
        ],
        [
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            csr,
            "-subj",
            "/CN=127.0.0.1",
        ],
        [
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca_pem,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            crt,
            "-days",
            "7",
            "-extfile",
            ext,
        ],
    ]
    started = time.monotonic()
    for step in steps:
        done = subprocess.run(
            ["openssl", *map(str, step)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise KafkaLocalError(f"openssl {step[0]} failed: {_tail(done.stderr, 10)}")
    keystore = folder / "broker-keystore.pem"
    keystore.write_text(key.read_text() + crt.read_text() + ca_pem.read_text(), encoding="utf-8")
    keystore.chmod(0o600)
    log(f"TLS files made with openssl in {time.monotonic() - started:.1f}s")
    return ca_pem, keystore


def scram_enabled() -> bool:
    """The SCRAM listener is on unless ``LEADSLA_KAFKA_SCRAM`` is 0/false/no/off."""
    return os.environ.get("LEADSLA_KAFKA_SCRAM", "1").strip().lower() not in (
        "0",
        "false",
        "no",
        "off",
    )


def server_properties(
    version: str,
    port: int,
    controller_port: int,
    data_dir: Path,
    scram_port: int | None = None,
    tls: tuple[int, Path] | None = None,
) -> str:
    listeners = f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}"
    advertised = f"PLAINTEXT://127.0.0.1:{port}"
    protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    if scram_port is not None:
        listeners += f",SASL_PLAINTEXT://127.0.0.1:{scram_port}"
        advertised += f",SASL_PLAINTEXT://127.0.0.1:{scram_port}"
        protocols += ",SASL_PLAINTEXT:SASL_PLAINTEXT"
    if tls is not None:
        listeners += f",SASL_SSL://127.0.0.1:{tls[0]}"
        advertised += f",SASL_SSL://127.0.0.1:{tls[0]}"
        protocols += ",SASL_SSL:SASL_SSL"
    props: dict[str, str] = {
        "process.roles": "broker,controller",
        "node.id": "1",
        # A static voter set: `StorageTool format` works without --standalone on 3.9 and 4.x.
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": listeners,
        "advertised.listeners": advertised,
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": protocols,
        "log.dirs": str(data_dir),
        "num.partitions": "4",
        "default.replication.factor": "1",
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
        "offsets.topic.replication.factor": "1",
        # Fewer internal partitions: a test session's first consumer group is ready sooner.
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "group.initial.rebalance.delay.ms": "0",
        # The broker is unfenced after its first heartbeats: 2 s apart by default.
        "broker.heartbeat.interval.ms": "500",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.retention.hours": "24",
    }
    if scram_port is not None:
        # The user itself is created by `StorageTool format --add-scram` (KRaft metadata).
        props["sasl.enabled.mechanisms"] = SCRAM_MECHANISM
        props[f"listener.name.sasl_plaintext.{SCRAM_MECHANISM.lower()}.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        )
    if tls is not None:
        props[f"listener.name.sasl_ssl.{SCRAM_MECHANISM.lower()}.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        )
        props["ssl.keystore.type"] = "PEM"
        props["ssl.keystore.location"] = str(tls[1])
    if major_version(version) >= 4:
        props["share.coordinator.state.topic.replication.factor"] = "1"
        props["share.coordinator.state.topic.min.isr"] = "1"
    header = f"# Generated by devtools/kafka_local.py: a throwaway single-node Kafka {version}.\n"
    return header + "".join(f"{k}={v}\n" for k, v in props.items())


def _log_config(version: str, run_dir: Path, level: str) -> tuple[Path, str]:
    """The logging configuration file and the JVM option that points the broker at it."""
    if major_version(version) >= 4:
        path = run_dir / "log4j2.properties"
        path.write_text(
            "status = warn\n"
            "name = leadsla-kafka-local\n"
            "appender.out.type = Console\n"
            "appender.out.name = OUT\n"
            "appender.out.layout.type = PatternLayout\n"
            "appender.out.layout.pattern = [%d] %p %m (%c)%n\n"
            f"rootLogger.level = {level}\n"
            "rootLogger.appenderRef.out.ref = OUT\n"
            "logger.statechange.name = state.change.logger\n"
            "logger.statechange.level = WARN\n",
            encoding="utf-8",
        )
        return path, f"-Dlog4j2.configurationFile={path}"
    path = run_dir / "log4j.properties"
    path.write_text(
        f"log4j.rootLogger={level}, out\n"
        "log4j.appender.out=org.apache.log4j.ConsoleAppender\n"
        "log4j.appender.out.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.state.change.logger=WARN\n",
        encoding="utf-8",
    )
    return path, f"-Dlog4j.configuration=file:{path}"


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise KafkaLocalError("java is not on PATH (Kafka needs Java 17 or newer)")
    return java


def _cluster_id() -> str:
    """A Kafka cluster id: a random UUID in URL-safe base64, never starting with '-'."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


# --------------------------------------------------------------------------- processes


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_our_broker(pid: int, run_dir: str) -> bool:
    """The process is a kafka.Kafka started on ``run_dir`` (guards against a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    text = [part.decode(errors="replace") for part in cmdline]
    return "kafka.Kafka" in text and any(part.startswith(run_dir) for part in text)


def _terminate(
    pid: int, timeout: float, popen: subprocess.Popen[bytes] | None, log: Callable[[str], None]
) -> None:
    """SIGTERM the broker's process group, SIGKILL it after ``timeout`` seconds."""

    def dead() -> bool:
        if popen is not None:
            return popen.poll() is not None
        return not _pid_alive(pid)

    def signal_group(sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)  # the broker leads its own process group (start_new_session)

    if dead():
        return
    signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dead():
            return
        time.sleep(0.1)
    log(f"broker pid {pid} still running {timeout:.0f}s after SIGTERM: SIGKILL")
    signal_group(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not dead():
        time.sleep(0.1)


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """A preexec_fn making the kernel SIGKILL the child when this (forking) thread dies."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)

    return preexec


def _cleanup_stale_run_dirs(log: Callable[[str], None]) -> None:
    """Remove data folders left by brokers that were killed without a chance to clean up."""
    for run_dir in Path(tempfile.gettempdir()).glob(RUN_DIR_PREFIX + "*"):
        info_file = run_dir / "broker.json"
        try:
            if info_file.is_file():
                info = json.loads(info_file.read_text())
                if _pid_alive(int(info["pid"])) and _is_our_broker(int(info["pid"]), str(run_dir)):
                    continue
            elif time.time() - run_dir.stat().st_mtime < 600:
                continue  # probably being set up right now by another process
        except (OSError, ValueError, KeyError):
            continue
        log(f"removing stale broker data {run_dir}")
        shutil.rmtree(run_dir, ignore_errors=True)
    # A folder hidden for a restart (_relaunch_in_place) is left behind only if its process died
    # in the middle of it; a restart takes seconds.
    for hidden in Path(tempfile.gettempdir()).glob(HIDDEN_PREFIX + "*"):
        with contextlib.suppress(OSError):
            if time.time() - hidden.stat().st_mtime > 3600:
                log(f"removing stale broker data {hidden}")
                shutil.rmtree(hidden, ignore_errors=True)


# --------------------------------------------------------------------------- readiness


def probe(bootstrap: str, timeout: float = 5.0) -> str | None:
    """None when a broker at ``bootstrap`` answers a DescribeCluster with an unfenced broker,
    else the reason it does not."""
    host, _, port = bootstrap.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=min(timeout, 2.0)):
            pass
    except OSError as exc:
        return f"no TCP connection: {exc}"
    from kafka import KafkaAdminClient  # lazy: `fetch` must work before the venv has it

    ms = int(timeout * 1000)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="leadsla-kafka-local-probe",
            request_timeout_ms=ms,
            bootstrap_timeout_ms=ms,
        )
    except Exception as exc:
        return f"admin client: {exc!r}"
    try:
        info = admin.describe_cluster()
    except Exception as exc:
        return f"describe_cluster: {exc!r}"
    finally:
        admin.close()
    brokers = [b for b in info.get("brokers", []) if not b.get("is_fenced", False)]
    return None if brokers else f"no unfenced broker yet: {info.get('brokers')}"


# --------------------------------------------------------------------------- the broker


class LocalKafka:
    """One throwaway broker. ``start()`` returns the bootstrap address; ``stop()`` removes it all.

    With ``die_with_parent`` (the default) the kernel kills the broker when the thread that
    started it dies, so a test session killed with SIGKILL leaves no broker behind; the CLI's
    ``start`` turns it off, since its broker must outlive the command.
    """

    def __init__(
        self,
        version: str | None = None,
        *,
        root: Path | None = None,
        state_file: Path | None = None,
        startup_timeout: float = 60.0,
        die_with_parent: bool = True,
        scram: bool | None = None,
        log: Callable[[str], None] = _log,
    ) -> None:
        self.version = _check_version(version or default_version())
        self.scram = scram_enabled() if scram is None else scram
        self.scram_username = SCRAM_USERNAME
        # Random per start: a dev broker's login, kept out of every log line.
        self.scram_password = secrets.token_urlsafe(18) if self.scram else ""
        self.scram_bootstrap: str | None = None
        self.tls = self.scram and tls_enabled()
        self.ssl_bootstrap: str | None = None
        self.ssl_cafile: Path | None = None
        self.root = root or cache_root()
        self.state_file = state_file
        self.startup_timeout = startup_timeout
        self.die_with_parent = die_with_parent
        self.log = log
        self.run_dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._bootstrap: str | None = None
        self._port: int | None = None
        self._listeners: dict[str, Any] = {}
        self.startup_seconds: float | None = None

    @property
    def bootstrap(self) -> str:
        if self._bootstrap is None:
            raise KafkaLocalError("the local broker is not running")
        return self._bootstrap

    @property
    def log_file(self) -> Path | None:
        return self.run_dir / "server.log" if self.run_dir else None

    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> str:
        if self._bootstrap is not None:
            return self._bootstrap
        lib = fetch_jars(self.version, self.root, self.log)
        _cleanup_stale_run_dirs(self.log)
        started = time.monotonic()
        atexit.register(self.stop)
        try:
            for attempt in (1, 2):
                try:
                    self._start_once(lib)
                    break
                except _PortTaken:
                    self._discard()
                    if attempt == 2:
                        raise KafkaLocalError("the broker's ports were taken twice") from None
                    self.log("a port was taken meanwhile; retrying with new ports")
        except BaseException:
            self._discard()
            raise
        self.startup_seconds = time.monotonic() - started
        _RUNNING[id(self)] = self
        self.log(
            f"Kafka {self.version} ready at {self._bootstrap} in {self.startup_seconds:.1f}s "
            f"(pid {self.process.pid if self.process else '?'}, log {self.log_file})"
        )
        return self.bootstrap

    def _start_once(self, lib: Path) -> None:
        self.run_dir = Path(tempfile.mkdtemp(prefix=RUN_DIR_PREFIX))
        data_dir = self.run_dir / "data"
        port, controller_port, scram_port, ssl_port = _free_ports(4)
        tls = None
        cafile: Path | None = None
        if self.tls:
            cafile, keystore = make_tls_files(self.run_dir / "tls", self.log)
            tls = (ssl_port, keystore)
        props = self.run_dir / "server.properties"
        props.write_text(
            server_properties(
                self.version,
                port,
                controller_port,
                data_dir,
                scram_port if self.scram else None,
                tls,
            ),
            encoding="utf-8",
        )
        level = os.environ.get("LEADSLA_KAFKA_LOG_LEVEL", "INFO")
        _, log_opt = _log_config(self.version, self.run_dir, level)
        java = _java()
        common = _jvm_common(log_opt, lib)

        fmt_cmd = [
            java,
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            *common,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            _cluster_id(),
            "-c",
            str(props),
            "--ignore-formatted",
        ]
        secret = f"{SCRAM_MECHANISM}=[name={self.scram_username},password={self.scram_password}]"
        if self.scram:
            fmt_cmd += ["--add-scram", secret]
        shown = " ".join(fmt_cmd).replace(self.scram_password or "\0", "***")
        t0 = time.monotonic()
        try:
            fmt = subprocess.run(
                fmt_cmd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=FORMAT_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise KafkaLocalError(
                f"formatting the storage took over {FORMAT_TIMEOUT_S:.0f}s: {shown}"
            ) from None
        if fmt.returncode != 0:
            raise KafkaLocalError(
                f"formatting the storage failed (exit {fmt.returncode}): {shown}\n"
                + _tail(fmt.stdout + fmt.stderr, 30).replace(self.scram_password or "\0", "***")
            )
        self.log(f"storage formatted in {time.monotonic() - t0:.1f}s")

        self._port = port
        listeners: dict[str, Any] = {}
        if self.scram:
            listeners["scram_bootstrap"] = f"127.0.0.1:{scram_port}"
            listeners["scram_mechanism"] = SCRAM_MECHANISM
            listeners["scram_username"] = self.scram_username
            listeners["scram_password"] = self.scram_password
        if tls is not None:
            listeners["ssl_bootstrap"] = f"127.0.0.1:{ssl_port}"
            listeners["ssl_cafile"] = str(cafile)
        self._listeners = listeners
        self._launch(lib, fresh=True)

    def _launch(self, lib: Path, *, fresh: bool) -> None:
        """Run ``kafka.Kafka`` on this broker's folder (formatted already); wait until it answers.

        ``fresh``: a new log file; else the log is appended to (a restart).
        """
        assert self.run_dir is not None and self._port is not None
        cmd = broker_command(self.version, lib, self.run_dir)
        log_file = self.run_dir / "server.log"
        log_offset = 0 if fresh or not log_file.exists() else log_file.stat().st_size
        with open(log_file, "wb" if fresh else "ab") as out:
            self.process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.run_dir,
                start_new_session=True,  # own process group: stop() signals the whole group
                preexec_fn=_pdeathsig_preexec() if self.die_with_parent else None,
            )
        self._bootstrap = None
        bootstrap = f"127.0.0.1:{self._port}"
        info: dict[str, Any] = {
            "pid": self.process.pid,
            "bootstrap": bootstrap,
            "version": self.version,
            "run_dir": str(self.run_dir),
            "log_file": str(log_file),
            "started_at": time.time(),
        }
        # The secured listeners (start() picked their ports; a restart keeps them).
        info.update(self._listeners)
        (self.run_dir / "broker.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        (self.run_dir / "broker.json").chmod(0o600)  # it holds the SCRAM login
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            self.state_file.write_text(json.dumps(info, indent=2), encoding="utf-8")
            self.state_file.chmod(0o600)

        deadline = time.monotonic() + self.startup_timeout
        reason = "not probed yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                text = log_file.read_text(errors="replace")
                if "Address already in use" in text[log_offset:]:
                    raise _PortTaken()
                raise KafkaLocalError(
                    f"the broker exited with code {self.process.returncode} while starting: "
                    f"{' '.join(cmd)}\n--- {log_file} (tail) ---\n{_tail(text, 40)}"
                )
            reason = probe(bootstrap, timeout=3.0) or ""
            if not reason:
                self._bootstrap = bootstrap
                self.scram_bootstrap = info.get("scram_bootstrap")
                self.ssl_bootstrap = info.get("ssl_bootstrap")
                self.ssl_cafile = Path(info["ssl_cafile"]) if "ssl_cafile" in info else None
                _STARTED[bootstrap] = self
                return
            time.sleep(0.25)
        raise KafkaLocalError(
            f"the broker did not answer at {bootstrap} within {self.startup_timeout:.0f}s "
            f"({reason}); command: {' '.join(cmd)}\n--- {log_file} (tail) ---\n"
            + _tail(log_file.read_text(errors="replace"), 40)
        )

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop the broker (SIGTERM, SIGKILL after ``timeout``) and remove its data. Idempotent."""
        if self.process is None and self.run_dir is None:
            return
        stopped = time.monotonic()
        self._discard(timeout)
        self.log(f"broker stopped and its data removed in {time.monotonic() - stopped:.1f}s")

    def restart(self, timeout: float = STOP_TIMEOUT_S, down_s: float = 0.0) -> str:
        """Stop the broker (SIGTERM, SIGKILL after ``timeout``) and start it again on the SAME
        port with the SAME data; returns the (unchanged) bootstrap address once it answers.

        ``down_s``: extra seconds to stay down between the stop and the start. The topics, their
        records and the committed consumer offsets survive; clients see a broker outage.
        """
        if self.process is None or self.run_dir is None or self._port is None:
            raise KafkaLocalError("restart: this broker is not running")
        started = time.monotonic()
        _terminate(self.process.pid, timeout, self.process, self.log)
        self.process = None
        self._bootstrap = None
        _relaunch_in_place(self, down_s)
        self.log(f"broker restarted at {self._bootstrap} in {time.monotonic() - started:.1f}s")
        return self.bootstrap

    def _discard(self, timeout: float = STOP_TIMEOUT_S) -> None:
        if self._bootstrap is not None:
            _STARTED.pop(self._bootstrap, None)
        self.scram_bootstrap = None
        self.ssl_bootstrap = None
        self.ssl_cafile = None
        if self.process is not None:
            _terminate(self.process.pid, timeout, self.process, self.log)
            self.process = None
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None
        if self.state_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.state_file.unlink()
        self._bootstrap = None
        self._port = None
        _RUNNING.pop(id(self), None)


class _PortTaken(Exception):
    pass


_RUNNING: dict[int, LocalKafka] = {}
"""The brokers this process started and has not stopped yet (for ``local_broker_at``)."""


def local_broker_at(bootstrap: str) -> LocalKafka | None:
    """The running broker at ``bootstrap`` that THIS process started, if any (for tests that
    get only the session broker's address and must restart it: ``.restart()``)."""
    for broker in list(_RUNNING.values()):
        if broker._bootstrap == bootstrap:
            return broker
    return None


def _relaunch_in_place(kafka: LocalKafka, down_s: float) -> None:
    """Start a stopped broker again on its folder, port and data.

    While it is down its folder is renamed away from ``RUN_DIR_PREFIX``: another process's
    ``LocalKafka.start()`` removes folders whose broker is not running (``_cleanup_stale_run_dirs``)
    and would otherwise delete this one, data and all, in the middle of the restart. A port the
    old listener still holds is waited for (a few seconds at most).
    """
    run_dir = kafka.run_dir
    assert run_dir is not None
    hidden = run_dir.with_name(HIDDEN_PREFIX + run_dir.name[len(RUN_DIR_PREFIX) :])
    run_dir.rename(hidden)
    try:
        lib = fetch_jars(kafka.version, kafka.root, kafka.log)
        if down_s > 0:
            time.sleep(down_s)
        for attempt in range(1, 11):
            hidden.rename(run_dir)
            try:
                kafka._launch(lib, fresh=False)
                return
            except _PortTaken:
                run_dir.rename(hidden)
                if attempt == 10:
                    raise KafkaLocalError(
                        "the broker's port stayed taken after a restart"
                    ) from None
                kafka.log("the port is still taken after the stop; retrying in 1 s")
                time.sleep(1.0)
    finally:
        if hidden.exists() and not run_dir.exists():
            hidden.rename(run_dir)


def _jvm_common(log_opt: str, lib: Path) -> list[str]:
    return [log_opt, "-Djava.awt.headless=true", "-cp", f"{lib}/*"]


def broker_command(version: str, lib: Path, run_dir: Path) -> list[str]:
    """The ``kafka.Kafka`` command line for a broker folder made by :class:`LocalKafka`."""
    if major_version(version) >= 4:
        log_opt = f"-Dlog4j2.configurationFile={run_dir / 'log4j2.properties'}"
    else:
        log_opt = f"-Dlog4j.configuration=file:{run_dir / 'log4j.properties'}"
    extra = os.environ.get("LEADSLA_KAFKA_JAVA_OPTS", "").split()
    return [
        _java(),
        "-Xmx512m",
        "-Xms128m",
        *extra,
        *_jvm_common(log_opt, lib),
        "kafka.Kafka",
        str(run_dir / "server.properties"),
    ]


_STARTED: dict[str, LocalKafka] = {}


def local_broker(bootstrap: str) -> LocalKafka | None:
    """The running broker this process started at ``bootstrap`` (for its SCRAM listener)."""
    return _STARTED.get(bootstrap)


# --------------------------------------------------------------------------- state-file commands


def read_state(state_file: Path) -> dict[str, Any] | None:
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise KafkaLocalError(f"unreadable state file {state_file}: {exc}") from None
    return state if isinstance(state, dict) else None


def _running(state: Mapping[str, Any]) -> bool:
    pid = int(state["pid"])
    return _pid_alive(pid) and _is_our_broker(pid, str(state["run_dir"]))


def stop_from_state(
    state_file: Path, timeout: float = STOP_TIMEOUT_S, log: Callable[[str], None] = _log
) -> bool:
    """Stop the broker a state file names; False when there was none running."""
    state = read_state(state_file)
    if state is None:
        return False
    was_running = _running(state)
    if was_running:
        _terminate(int(state["pid"]), timeout, None, log)
    run_dir = Path(str(state["run_dir"]))
    if run_dir.name.startswith(RUN_DIR_PREFIX):
        shutil.rmtree(run_dir, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        state_file.unlink()
    return was_running


def restart_from_state(
    state_file: Path,
    timeout: float = STOP_TIMEOUT_S,
    startup_timeout: float = 60.0,
    down_s: float = 0.0,
    log: Callable[[str], None] = _log,
) -> str:
    """Restart the broker a state file names on the same port and data; its bootstrap address.

    The broker is stopped (SIGTERM, SIGKILL after ``timeout``) if it runs, then started again
    detached from this process (like ``start``); the state file gets the new pid.
    """
    state = read_state(state_file)
    if state is None:
        raise KafkaLocalError(f"no broker recorded in {state_file}: `start` one first")
    run_dir = Path(str(state["run_dir"]))
    if not (run_dir / "server.properties").is_file():
        raise KafkaLocalError(f"the broker's folder {run_dir} is gone: `stop`, then `start`")
    if _running(state):
        _terminate(int(state["pid"]), timeout, None, log)
    bootstrap = str(state["bootstrap"])
    kafka = LocalKafka(
        str(state["version"]),
        state_file=state_file,
        startup_timeout=startup_timeout,
        die_with_parent=False,
        log=log,
    )
    kafka.run_dir = run_dir
    kafka._port = int(bootstrap.rpartition(":")[2])
    kafka._listeners = {
        key: value for key, value in state.items() if key.startswith(("scram_", "ssl_"))
    }
    started = time.monotonic()
    try:
        _relaunch_in_place(kafka, down_s)
    except BaseException:
        if kafka.process is not None:  # never leave a half-started broker behind
            _terminate(kafka.process.pid, timeout, kafka.process, log)
        raise
    log(f"broker restarted at {kafka.bootstrap} in {time.monotonic() - started:.1f}s")
    kafka.process = None  # detach: the broker outlives this command; `stop` ends it
    return kafka.bootstrap


# --------------------------------------------------------------------------- CLI


def _cmd_fetch(args: argparse.Namespace) -> int:
    print(fetch_jars(args.version))
    return 0


def _cmd_start(args: argparse.Namespace) -> int:
    state_file = Path(args.state_file)
    state = read_state(state_file)
    if state is not None:
        if _running(state):
            _log(f"already running (pid {state['pid']}); stop it first to change version")
            print(state["bootstrap"])
            return 0
        stop_from_state(state_file)  # stale: remove its leftovers
    kafka = LocalKafka(
        args.version,
        state_file=state_file,
        startup_timeout=args.timeout,
        die_with_parent=False,
    )
    kafka.start()
    atexit.unregister(kafka.stop)  # the broker outlives this command; `stop` ends it
    kafka.process = None  # detach: Popen's destructor must not think it owns the broker
    print(kafka.bootstrap, flush=True)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    state = read_state(Path(args.state_file))
    if state is None:
        print("not running (no state file)")
        return 3
    if not _running(state):
        print(f"not running (stale state file {args.state_file}; `stop` removes it)")
        return 3
    reason = probe(str(state["bootstrap"]))
    health = "answering" if reason is None else f"NOT answering: {reason}"
    extra = ""
    if state.get("scram_bootstrap"):
        extra += f"; SASL_PLAINTEXT/{SCRAM_MECHANISM} at {state['scram_bootstrap']}"
    if state.get("ssl_bootstrap"):
        extra += f"; SASL_SSL at {state['ssl_bootstrap']} (CA {state.get('ssl_cafile')})"
    if extra:
        extra += " (login in the state file)"
    print(
        f"running: Kafka {state['version']} at {state['bootstrap']}, pid {state['pid']}, "
        f"{health}, log {state['log_file']}{extra}"
    )
    return 0 if reason is None else 1


def _cmd_restart(args: argparse.Namespace) -> int:
    print(
        restart_from_state(
            Path(args.state_file), args.stop_timeout, args.timeout, down_s=args.down
        ),
        flush=True,
    )
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    if stop_from_state(Path(args.state_file), args.timeout):
        _log("broker stopped and its data removed")
    else:
        _log("no broker was running")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.kafka_local",
        description="A local single-node Kafka (KRaft) from Maven jars, without Docker.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, helptext in (
        ("fetch", _cmd_fetch, "fetch the broker jars into the cache (prints the lib folder)"),
        ("start", _cmd_start, "start a broker in the background (prints its bootstrap address)"),
        ("status", _cmd_status, "is the broker running and answering?"),
        ("stop", _cmd_stop, "stop the broker and remove its data"),
        (
            "restart",
            _cmd_restart,
            "stop the broker and start it again on the same port with the same data "
            "(prints its bootstrap address)",
        ),
    ):
        p = sub.add_parser(name, help=helptext, description=helptext)
        p.set_defaults(func=func)
        if name in ("fetch", "start"):
            p.add_argument(
                "--version",
                default=default_version(),
                help="Kafka version (env KAFKA_VERSION; default %(default)s)",
            )
        if name != "fetch":
            p.add_argument(
                "--state-file",
                default=str(default_state_file()),
                help="where the running broker is recorded (default %(default)s)",
            )
        if name in ("start", "restart"):
            p.add_argument("--timeout", type=float, default=60.0, help="startup limit, seconds")
        if name == "restart":
            p.add_argument(
                "--stop-timeout",
                type=float,
                default=STOP_TIMEOUT_S,
                help="SIGTERM grace before SIGKILL, seconds",
            )
            p.add_argument(
                "--down", type=float, default=0.0, help="seconds to stay down (default 0)"
            )
        if name == "stop":
            p.add_argument(
                "--timeout", type=float, default=STOP_TIMEOUT_S, help="SIGTERM grace, seconds"
            )
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KafkaLocalError as exc:
        _log(f"error: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
