"""The worker's configuration: ONE frozen object, built from the environment in one place.

Nothing else in the project reads ``os.environ``; ``create_app`` and the CLI commands take a
``Settings``. It lives at the edge (``leadsla/``), not in ``streams/``, so that the read-model
projector (``projections/``) shares the connection settings without importing the worker. Every faust setting that matters is passed explicitly, so faust's own environment
variables (``BROKER_SESSION_TIMEOUT`` and so on) cannot change the worker behind our back.

``Settings`` is a pydantic-settings ``BaseSettings``: ``Settings.from_env`` reads the variables
below with pydantic-settings' environment source (over the mapping it is given, so a test never
touches ``os.environ``); ``Settings(...)`` itself reads nothing (``settings_customise_sources``
keeps only the keyword arguments), so code that builds settings by hand gets exactly what it
passed.

| variable | field | default |
|---|---|---|
| ``LEADSLA_BOOTSTRAP_SERVERS`` | bootstrap_servers | ``kafka://127.0.0.1:9092`` (comma or semicolon separated; ``kafka://`` optional) |
| ``LEADSLA_TOPIC_PREFIX`` | topic_prefix | ``""`` (prepended to every topic name) |
| ``LEADSLA_POLICY`` | policy_path | none |
| ``LEADSLA_APP_ID`` | app_id | ``lead-sla`` (also the consumer group id) |
| ``LEADSLA_STORE`` | store | ``memory://`` |
| ``LEADSLA_DATA_DIR`` | data_dir | ``lead-sla-data`` (faust's datadir, relative to the working folder) |
| ``LEADSLA_PARTITIONS`` | partitions | ``4`` |
| ``LEADSLA_REPLICATION_FACTOR`` | replication_factor | ``1`` |
| ``LEADSLA_SESSION_TIMEOUT_S`` | session_timeout_s | ``10`` |
| ``LEADSLA_HEARTBEAT_INTERVAL_S`` | heartbeat_interval_s | ``1`` |
| ``LEADSLA_REBALANCE_TIMEOUT_S`` | rebalance_timeout_s | ``20`` |
| ``LEADSLA_REQUEST_TIMEOUT_S`` | request_timeout_s | ``30`` (at least the session timeout) |
| ``LEADSLA_COMMIT_INTERVAL_S`` | commit_interval_s | ``1`` |
| ``LEADSLA_AUTO_OFFSET_RESET`` | auto_offset_reset | ``earliest`` |
| ``LEADSLA_WEB_ENABLED`` / ``LEADSLA_WEB_HOST`` / ``LEADSLA_WEB_PORT`` | web_* | off / ``127.0.0.1`` / ``6066`` |
| ``LEADSLA_METRICS_PORT`` | metrics_port | none: off (else Prometheus metrics on ``web_host``, this port) |
| ``LEADSLA_LOG_LEVEL`` | log_level | ``info`` |
| ``LEADSLA_LOG_FORMAT`` | log_format | ``text`` (``json``: one JSON object per line, ``leadsla/logs.py``) |
| ``LEADSLA_SECURITY_PROTOCOL`` | security_protocol | ``PLAINTEXT`` (``SSL``, ``SASL_PLAINTEXT``, ``SASL_SSL``) |
| ``LEADSLA_SASL_MECHANISM`` / ``LEADSLA_SASL_USERNAME`` / ``LEADSLA_SASL_PASSWORD`` | sasl_* | ``PLAIN`` / none / none (secret) |
| ``LEADSLA_SSL_CAFILE`` | ssl_cafile | none (system trust store) |
| ``LEADSLA_HELD_TIMEOUT_S`` | held_timeout_s | ``300`` (rule 13: wall-clock wait for a lead's ``lead.created``) |
| ``LEADSLA_RETENTION_DAYS`` | retention_days | ``90`` (a decided lead is retired this long after its last input) |
| ``LEADSLA_BATCH_MAX`` / ``LEADSLA_BATCH_WITHIN_S`` | batch_* | ``1000`` / ``0.02`` (records per batch, longest wait to fill one) |
| ``LEADSLA_TICK_INTERVAL_S`` | tick_interval_s | ``0.1`` (how often the deadline loop looks for due leads) |
| ``LEADSLA_STATE_CACHE`` | state_cache | ``20000`` (leads whose last stored state the worker keeps decoded; ``0``: none) |

faust's broker timeouts default to 60 s (session, rebalance) and 90 s (request); a worker that
restarts then waits up to a minute for its own ghost to leave the group. The defaults here are
shorter; the broker refuses a session timeout below its ``group.min.session.timeout.ms``
(6 s by default).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

ENV_PREFIX = "LEADSLA_"
_ENV_EXCEPTIONS = {"policy_path": "LEADSLA_POLICY"}


def env_name(field: str) -> str:
    """The environment variable that sets a field (``partitions`` -> ``LEADSLA_PARTITIONS``)."""
    return _ENV_EXCEPTIONS.get(field, ENV_PREFIX + field.upper())


class SettingsError(ValueError):
    """The environment holds a value the worker cannot use; the message names the variable."""


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of ``os.environ``.

    pydantic-settings has no public way to pass the environment (pydantic/pydantic-settings#653);
    its source reads it in ``_load_env_vars``, overridden here (pinned version). Only the exact
    names of ``env_name`` are read (``LEADSLA_POLICY`` for ``policy_path``; a lower-case
    ``leadsla_partitions`` or a ``LEADSLA_POLICY_PATH`` is ignored); empty values count as unset
    (``env_ignore_empty``; ``LEADSLA_TOPIC_PREFIX=""`` then gives its default, ``""``).
    """

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # The name pydantic-settings looks up for a field is the prefix and the field's name.
        exact = {env_name(field): ENV_PREFIX + field for field in self.settings_cls.model_fields}
        found = {exact[name]: value for name, value in self._environ.items() if name in exact}
        return parse_env_vars(
            found, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        validate_default=False,
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        env_ignore_empty=True,
    )

    bootstrap_servers: str = "kafka://127.0.0.1:9092"
    topic_prefix: str = ""
    policy_path: str | None = None
    app_id: str = Field(default="lead-sla", min_length=1)
    store: str = "memory://"
    data_dir: str = "lead-sla-data"
    partitions: int = Field(default=4, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    session_timeout_s: float = Field(default=10.0, gt=0)
    heartbeat_interval_s: float = Field(default=1.0, gt=0)
    rebalance_timeout_s: float = Field(default=20.0, gt=0)
    request_timeout_s: float = Field(default=30.0, gt=0)
    commit_interval_s: float = Field(default=1.0, gt=0)
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    web_enabled: bool = False
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=6066, ge=1, le=65535)
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    log_level: str = "info"
    log_format: Literal["json", "text"] = "text"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    held_timeout_s: float = Field(default=300.0, gt=0)
    retention_days: float = Field(default=90.0, gt=0)
    batch_max: int = Field(default=1000, ge=1)
    batch_within_s: float = Field(default=0.02, gt=0)
    tick_interval_s: float = Field(default=0.1, gt=0)
    state_cache: int = Field(default=20_000, ge=0)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.session_timeout_s > self.request_timeout_s:
            raise ValueError("session_timeout_s must not exceed request_timeout_s")
        if self.heartbeat_interval_s >= self.session_timeout_s:
            raise ValueError("heartbeat_interval_s must be below session_timeout_s")
        if not self.broker_hosts:
            raise ValueError("bootstrap_servers names no broker")
        if self.web_enabled and self.metrics_port == self.web_port:
            raise ValueError("metrics_port must differ from web_port (faust's web server)")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """``Settings(...)`` takes only its arguments: the environment is ``from_env``'s job."""
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``LEADSLA_*`` variables (see the module docstring), then ``overrides``.

        ``environ`` defaults to the process environment. Empty variables count as unset, except
        ``LEADSLA_TOPIC_PREFIX``.
        """
        # BaseSettings.__init__ would take ``_env_prefix=`` and the like as its own options.
        options = [key for key in overrides if key.startswith("_")]
        if options:
            problems = "; ".join(
                f"{env_name(key)}: Extra inputs are not permitted" for key in options
            )
            raise SettingsError(f"invalid settings: {problems}")
        values = _Environment(cls, os.environ if environ is None else environ)()
        values.update(overrides)
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{env_name(str(err['loc'][0])) if err['loc'] else 'settings'}: {err['msg']}"
                for err in exc.errors()
            )
            raise SettingsError(f"invalid settings: {problems}") from None

    @property
    def broker_hosts(self) -> tuple[str, ...]:
        """``host:port`` of every bootstrap server, without a scheme (for kafka-python)."""
        hosts = []
        for part in self.bootstrap_servers.replace(";", ",").split(","):
            part = part.strip()
            if part.startswith("kafka://"):
                part = part[len("kafka://") :]
            if part:
                hosts.append(part)
        return tuple(hosts)

    @property
    def broker_urls(self) -> list[str]:
        """The bootstrap servers as faust broker URLs."""
        return [f"kafka://{host}" for host in self.broker_hosts]

    def topic(self, suffix: str) -> str:
        """The full name of a topic: the prefix, then its name (``leads.created``)."""
        return f"{self.topic_prefix}{suffix}"


def client_config(settings: Settings) -> dict[str, Any]:
    """kafka-python client options (admin, producer, consumer) for these settings."""
    config: dict[str, Any] = {
        "bootstrap_servers": list(settings.broker_hosts),
        "security_protocol": settings.security_protocol,
        "request_timeout_ms": int(settings.request_timeout_s * 1000),
        # a broker that never answers: give up after the request timeout, not 30 s
        "bootstrap_timeout_ms": int(settings.request_timeout_s * 1000),
    }
    if settings.security_protocol.startswith("SASL"):
        config["sasl_mechanism"] = settings.sasl_mechanism
        config["sasl_plain_username"] = settings.sasl_username
        if settings.sasl_password is not None:
            config["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    if settings.ssl_cafile:
        config["ssl_cafile"] = settings.ssl_cafile
    return config


def settings_for_command(bootstrap_servers: str | None, prefix: str | None) -> Settings:
    """The environment's settings with a one-shot command's ``--bootstrap-servers`` and
    ``--prefix`` on top (raises :class:`SettingsError`)."""
    overrides: dict[str, object] = {}
    if bootstrap_servers:
        overrides["bootstrap_servers"] = bootstrap_servers
    if prefix is not None:
        overrides["topic_prefix"] = prefix
    return Settings.from_env(None, **overrides)
