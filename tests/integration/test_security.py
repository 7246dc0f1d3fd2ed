"""SASL/SCRAM-SHA-512 against the session's broker: its second listener (SASL_PLAINTEXT) and
third (SASL_SSL, a certificate signed by a CA made with openssl for this broker), with a SCRAM
user created by ``devtools/kafka_local.py`` when it formatted the storage.

`lead-sla topics create` and `lead-sla worker` work over both with the ``LEADSLA_SECURITY_*``
variables; a wrong password, or a CA that does not vouch for the broker, fails in one line, exit
2, no traceback; the password never shows in their output, their logs (debug level) or the
worker's /metrics.
"""

from __future__ import annotations

import os
import socket
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from leadsla.settings import Settings

from .conftest import KafkaIO
from .processes import lead_event, read_until, run_cli, running_worker, worker_env

pytestmark = pytest.mark.kafka

POLICY = 'default_manager = "mgr-ines"\n\n[[targets]]\nminutes = 30\n'


@dataclass(frozen=True)
class Scram:
    bootstrap: str
    username: str
    password: str
    ssl_bootstrap: str | None
    ssl_cafile: str | None


def _missing(message: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture
def scram(kafka_bootstrap: str) -> Scram:
    """The SCRAM listener of the broker this session started (none with an outside broker)."""
    from devtools.kafka_local import local_broker

    broker = local_broker(kafka_bootstrap)
    if broker is None or broker.scram_bootstrap is None:
        _missing(
            "the session's broker has no SCRAM listener (KAFKA_BOOTSTRAP_SERVERS, "
            "testcontainers, or LEADSLA_KAFKA_SCRAM=0)"
        )
        raise AssertionError("unreachable")
    return Scram(
        broker.scram_bootstrap,
        broker.scram_username,
        broker.scram_password,
        broker.ssl_bootstrap,
        str(broker.ssl_cafile) if broker.ssl_cafile else None,
    )


def _scram_env(
    settings: Settings,
    policy: Path,
    scram: Scram,
    password: str,
    protocol: str = "SASL_PLAINTEXT",
    cafile: str | None = None,
) -> dict[str, str]:
    if protocol == "SASL_SSL" and scram.ssl_bootstrap is None:
        _missing(
            "the session's broker has no SASL_SSL listener (no openssl, or LEADSLA_KAFKA_SSL=0)"
        )
    env = worker_env(
        settings,
        policy,
        LEADSLA_BOOTSTRAP_SERVERS=str(
            scram.ssl_bootstrap if protocol == "SASL_SSL" else scram.bootstrap
        ),
        LEADSLA_SECURITY_PROTOCOL=protocol,
        LEADSLA_SASL_MECHANISM="SCRAM-SHA-512",
        LEADSLA_SASL_USERNAME=scram.username,
        LEADSLA_SASL_PASSWORD=password,
    )
    if cafile:
        env["LEADSLA_SSL_CAFILE"] = cafile
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_topics_and_the_worker_run_over_scram_and_never_show_the_password(
    kafka_settings: Callable[..., Any],
    kafka_io: KafkaIO,
    scram: Scram,
    tmp_path: Path,
    protocol: str,
) -> None:
    # Given the SCRAM listener's address and login in the LEADSLA_* variables (and for
    # SASL_SSL the CA that signed the broker's certificate)
    settings = kafka_settings()
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    port = _free_port()
    env = _scram_env(settings, policy, scram, scram.password, protocol, scram.ssl_cafile)
    env["LEADSLA_METRICS_PORT"] = str(port)

    # When `lead-sla topics create` runs
    created = run_cli(["topics", "create"], env)

    # Then it creates the topics over SCRAM
    assert created.returncode == 0, created.stderr
    assert f"{settings.topic('sla.facts')}\tcreated" in created.stdout

    # When the worker runs over SCRAM (debug logs) and a lead comes in (written over PLAINTEXT)
    log = tmp_path / "worker.log"
    now = datetime.now(UTC).isoformat()
    with running_worker(env, log, loglevel="debug"):
        kafka_io.produce(
            settings.topic("leads.created"),
            [(b"lead-s1", lead_event("lead.created", "lead-s1", "c-s1", now, source="email"))],
        )
        records = read_until(
            kafka_io,
            [settings.topic("sla.measurements")],
            lambda rs: any(r.json()["type"] == "sla.timer_started" for r in rs),
            timeout_s=40,
        )
        # Then it processes it
        assert any(r.json()["type"] == "sla.timer_started" for r in records), log.read_text(
            errors="replace"
        )[-3000:]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            metrics = answer.read().decode()
    assert "lead_sla_inputs_total" in metrics

    # and the password is in none of what it printed, logged or served
    worker_log = log.read_text(errors="replace")
    assert "SCRAM-SHA-512" in worker_log or "sasl" in worker_log.lower()  # debug logs did run
    for text in (created.stdout, created.stderr, worker_log, metrics):
        assert scram.password not in text


def test_a_wrong_password_fails_in_one_line_without_a_traceback(
    kafka_settings: Callable[..., Any], scram: Scram, tmp_path: Path
) -> None:
    # Given a wrong password
    settings = kafka_settings()
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    wrong = "not-the-password-" + scram.password[:4]
    env = _scram_env(settings, policy, scram, wrong)

    for args in (["topics", "create"], ["worker"], ["erase", "lead-1"], ["dlq", "list"]):
        # When a command connects (bounded by the subprocess timeout)
        done = run_cli(args, env, timeout=45)

        # Then it stops with exit 2 and one line that says the login was refused, and why
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, (args, done.stderr)
        assert len(lines) == 1, (args, done.stderr)
        assert "refused the SCRAM-SHA-512 login of user" in lines[0]
        assert "invalid credentials" in lines[0]
        assert "Traceback" not in done.stdout + done.stderr
        # and the password it tried is not printed
        assert wrong not in done.stdout + done.stderr


def test_a_broker_certificate_the_ca_does_not_vouch_for_fails_in_one_line(
    kafka_settings: Callable[..., Any], scram: Scram, tmp_path: Path
) -> None:
    # Given SASL_SSL with the right login but the system's trust store instead of the CA
    settings = kafka_settings()
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    env = _scram_env(settings, policy, scram, scram.password, "SASL_SSL", cafile=None)
    env.pop("LEADSLA_SSL_CAFILE", None)

    for args in (["topics", "create"], ["worker"]):
        # When a command connects
        done = run_cli(args, env, timeout=45)

        # Then it stops with exit 2 and one line naming the certificate problem
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, (args, done.stderr)
        assert len(lines) == 1, (args, done.stderr)
        assert "has a TLS certificate that the system's trust store" in lines[0]
        assert "certificate" in lines[0].rsplit(":", 1)[1]
        assert "Traceback" not in done.stdout + done.stderr
        assert scram.password not in done.stdout + done.stderr
