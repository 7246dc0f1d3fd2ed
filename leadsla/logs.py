"""Log lines for people (``text``, faust's default) or for log pipelines (``json``).

``LEADSLA_LOG_FORMAT=json`` makes every log record one JSON object on one line of standard error:
``time`` (UTC, RFC 3339 with milliseconds and ``Z``), ``level``, ``logger``, ``message``, and
``lead_id`` / ``event_id`` when the call gave them (``log.warning("...", extra={"lead_id": lead})``),
plus ``exception`` (the formatted traceback) when there is one. The worker applies it at start
(:func:`configure` for its own start-up lines, :func:`logging_config` for faust's logging set-up,
which replaces the root handlers).
"""

from __future__ import annotations

import logging
import logging.config
from datetime import UTC, datetime
from typing import Any, Final, Literal

import orjson

LogFormat = Literal["json", "text"]
CONTEXT_FIELDS: Final = ("lead_id", "event_id")
"""Passed through ``extra=`` and written as top-level fields when not None."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            # isoformat writes +00:00 for UTC; the project writes Z
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value if isinstance(value, str | int) else str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


def level_number(level: str | int) -> int:
    """``info``, ``INFO`` or 20 -> 20; an unknown name raises ``ValueError``."""
    if isinstance(level, int):
        return level
    number = logging.getLevelName(level.strip().upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}")
    return number


def logging_config(log_format: LogFormat, level: str | int) -> dict[str, Any] | None:
    """A ``logging.config.dictConfig`` for ``log_format``; None for ``text`` (faust's own)."""
    if log_format == "text":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level_number(level), "handlers": ["default"]},
        # kafka-python (topic checks at start) narrates every connection at info
        "loggers": {"kafka": {"level": max(logging.WARNING, level_number(level))}},
    }


def configure(log_format: LogFormat, level: str | int) -> None:
    """Set up the root logger now for ``json`` (``text`` leaves it to faust); a bad level raises
    ``ValueError``."""
    config = logging_config(log_format, level)
    if config is None:
        level_number(level)
    else:
        logging.config.dictConfig(config)
