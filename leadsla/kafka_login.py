"""Is the configured SASL login accepted? One check, shared by every command that talks to Kafka.

kafka-python does not raise on a refused login: it logs the broker's answer
(``SaslAuthenticationFailedError``) and keeps retrying until its bootstrap time is up, then says
only "Unable to bootstrap". A worker would take that for an unreachable broker and retry for ever.
:func:`check_login` connects once, watches kafka-python's log for the refusal, and turns it into
:class:`LoginFailed` with a one-line message (the broker's reason, the user and the mechanism;
never the password) as soon as the broker answers.
"""

from __future__ import annotations

import logging
import threading
import time

from leadsla.settings import Settings, client_config

DEFAULT_TIMEOUT_S = 15.0


class LoginFailed(RuntimeError):
    """The broker refused the SASL login (wrong user, password or mechanism)."""


class _Refusals(logging.Handler):
    """Collects kafka-python's log records that carry an authentication failure."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.reason: str | None = None
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        from kafka.errors import SaslAuthenticationFailedError

        for arg in (*(record.args if isinstance(record.args, tuple) else ()), record.msg):
            if isinstance(arg, SaslAuthenticationFailedError):
                self.reason = _one_line(arg)
                self.seen.set()
                return


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    marker = f"{type(exc).__name__}: "
    if marker in text:  # kafka-python repeats the class name: keep the broker's words
        text = text.rsplit(marker, 1)[1]
    return text[:300] or type(exc).__name__


def check_login(settings: Settings, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Raise :class:`LoginFailed` when the broker refuses this SASL login.

    Returns as soon as a broker accepted it, when the protocol uses no SASL, or when no broker
    answered within ``timeout_s`` (the caller's own connection reports that in its own words).
    """
    if not settings.security_protocol.startswith("SASL"):
        return
    from kafka import KafkaAdminClient

    refusals = _Refusals()
    kafka_log = logging.getLogger("kafka")
    previous_level = kafka_log.level
    kafka_log.addHandler(refusals)
    if kafka_log.getEffectiveLevel() > logging.WARNING:
        kafka_log.setLevel(logging.WARNING)
    done = threading.Event()

    def connect() -> None:
        try:
            admin = KafkaAdminClient(
                client_id=f"{settings.app_id}-login-check",
                bootstrap_timeout_ms=int(timeout_s * 1000),
                **client_config(settings),
            )
            admin.close()
        except Exception:  # reported by the refusal handler, or by the caller's own client
            pass
        finally:
            done.set()

    thread = threading.Thread(target=connect, name="leadsla-login-check", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s + 1.0
    try:
        while not done.is_set() and not refusals.seen.is_set() and time.monotonic() < deadline:
            refusals.seen.wait(0.05)
    finally:
        kafka_log.removeHandler(refusals)
        kafka_log.setLevel(previous_level)
    if refusals.reason is not None:
        raise LoginFailed(
            f"the broker at {settings.bootstrap_servers} refused the {settings.sasl_mechanism} "
            f"login of user {settings.sasl_username!r} (check LEADSLA_SASL_USERNAME, "
            f"LEADSLA_SASL_PASSWORD and LEADSLA_SASL_MECHANISM): {refusals.reason}"
        )
