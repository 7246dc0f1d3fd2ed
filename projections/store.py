"""The read-model database: one interface over SQLite (embedded) and PostgreSQL (psycopg 3).

A :class:`Store` opens ``--db URL`` (``sqlite:///path`` or ``postgresql://...``), creates or
migrates the schema (:mod:`leadsla.projections.schema`), applies batches of rows with their
source position in ONE transaction (:meth:`Store.apply`), and answers queries as plain Python
values: timestamps as aware UTC ``datetime``, booleans as ``bool``, dates as ``YYYY-MM-DD`` text,
whichever database answered. A password in a URL never reaches a message (:func:`mask_url`).

Statements are written once, with ``?`` placeholders (PostgreSQL gets ``%s``). Every write is an
upsert that converges whatever the order and however often a row is applied: a fact replaces the
stored one only when its ``version`` is newer, a timer only when it is later, a logged event
(alert, task, closing, retraction, response, dead letter) is inserted once by its key.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit, urlunsplit

import orjson

from .schema import (
    ALERT_COLUMNS,
    CLOSING_COLUMNS,
    DEAD_LETTER_COLUMNS,
    FACT_COLUMNS,
    RESPONSE_COLUMNS,
    RETRACTION_COLUMNS,
    SCHEMA_VERSION,
    TABLES,
    TASK_COLUMNS,
    TIMER_COLUMNS,
    VIEW_NAMES,
    Dialect,
    table_ddl,
    view_ddl,
)

DEFAULT_DB: Final = "sqlite:///lead-sla.db"


class StoreError(RuntimeError):
    """The database cannot be used; the message never contains a password."""


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for every message we print)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", url)
    if parts.password is None:
        masked = url
    else:
        netloc = parts.netloc
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        masked = urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))
    # A password given as a query parameter (?password=...) too.
    return re.sub(r"(?i)(password=)[^&]*", r"\1***", masked)


def _scrub(text: str, url: str) -> str:
    """An error message with the URL's password (raw or decoded) removed."""
    with contextlib.suppress(ValueError):
        password = urlsplit(url).password
        if password:
            for secret in {password, unquote(password)}:
                text = text.replace(secret, "***")
    match = re.search(r"(?i)password=([^&\s]*)", url)
    if match and match.group(1):
        text = text.replace(match.group(1), "***")
    return " ".join(text.split())  # one line: drivers' messages carry newlines and tabs


def _dialect(url: str) -> Dialect:
    if url.startswith("sqlite:"):
        return "sqlite"
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return "postgresql"
    raise StoreError(
        f"unsupported database URL {mask_url(url)!r}: use sqlite:///path or postgresql://..."
    )


def url_dialect(url: str) -> Dialect:
    """``sqlite`` or ``postgresql``; a :class:`StoreError` for any other URL (a usage mistake)."""
    return _dialect(url)


def sqlite_path(url: str) -> str:
    """``sqlite:///rel/path`` -> ``rel/path``; ``sqlite:////abs/path`` -> ``/abs/path``."""
    rest = url[len("sqlite:") :]
    if rest.startswith("///"):
        return rest[3:]
    if rest.startswith("//"):
        return rest[2:]
    return rest


def ts_sqlite(text: str | None) -> str | None:
    """Output timestamp text -> fixed-width ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (sorts as time)."""
    if text is None:
        return None
    if len(text) == 27:
        return text
    # ``2026-11-02T08:02:07Z`` or with 1-6 fraction digits (outputs are UTC, ``Z``).
    base = text[:19]
    frac = text[20:-1] if len(text) > 20 and text[19] == "." else ""
    return f"{base}.{frac.ljust(6, '0')[:6]}Z"


def _as_datetime(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 27 and value[10] == "T" and value[-1] == "Z":
        return datetime.fromisoformat(value)
    return value


# Columns read back as ``bool`` (SQLite stores 0/1).
BOOL_COLUMNS: Final = frozenset(
    {
        "eligible",
        "within_sla",
        "pre_breach_warned",
        "escalated",
        "meeting_after_escalation",
        "stale",
        "in_review",
        "suppressed",
        "apology_review_required",
        "retracted",
        "closed",
    }
)


def _upsert(table: str, columns: Sequence[str], key: Sequence[str], newer: str | None) -> str:
    """``INSERT ... ON CONFLICT`` (SQLite >= 3.24 and PostgreSQL spell it the same)."""
    placeholders = ", ".join("?" for _ in columns)
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
    conflict = f" ON CONFLICT ({', '.join(key)})"
    if newer is None:
        return head + conflict + " DO NOTHING"
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return head + conflict + f" DO UPDATE SET {updates} WHERE {newer}"


SQL_FACT: Final = _upsert(
    "lead_facts",
    FACT_COLUMNS,
    ("lead_id",),
    # A newer version wins; an equal version with another event id (a policy change re-emits)
    # is decided by the event id, so the result never depends on the order rows arrive in.
    "lead_facts.version < excluded.version OR (lead_facts.version = excluded.version "
    "AND lead_facts.fact_event_id < excluded.fact_event_id)",
)
SQL_TIMER: Final = _upsert(
    "lead_timers",
    TIMER_COLUMNS,
    ("lead_id",),
    "lead_timers.timer_at < excluded.timer_at OR (lead_timers.timer_at = excluded.timer_at "
    "AND lead_timers.timer_event_id < excluded.timer_event_id)",
)
SQL_ALERT: Final = _upsert("alerts", ALERT_COLUMNS, ("event_id",), None)
SQL_TASK: Final = _upsert("tasks", TASK_COLUMNS, ("event_id",), None)
SQL_CLOSING: Final = _upsert("task_closings", CLOSING_COLUMNS, ("event_id",), None)
SQL_RETRACTION: Final = _upsert("retractions", RETRACTION_COLUMNS, ("event_id",), None)
SQL_RESPONSE: Final = _upsert("responses", RESPONSE_COLUMNS, ("event_id",), None)
SQL_DEAD_LETTER: Final = _upsert(
    "dead_letters",
    DEAD_LETTER_COLUMNS,
    ("original_topic", "original_partition", "original_offset"),
    None,
)
SQL_POSITION: Final = (
    "INSERT INTO projector_positions (stream, part, next_offset, byte_offset, updated_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (stream, part) DO UPDATE SET "
    "next_offset = excluded.next_offset, byte_offset = excluded.byte_offset, "
    "updated_at = excluded.updated_at"
)


@dataclass(slots=True)
class Batch:
    """Rows for one transaction, in the column order of :mod:`schema`, already typed for
    the target database (see :meth:`Store.ts` and :meth:`Store.flag`)."""

    facts: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    timers: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    alerts: list[tuple[Any, ...]] = field(default_factory=list)
    tasks: list[tuple[Any, ...]] = field(default_factory=list)
    closings: list[tuple[Any, ...]] = field(default_factory=list)
    retractions: list[tuple[Any, ...]] = field(default_factory=list)
    responses: list[tuple[Any, ...]] = field(default_factory=list)
    dead_letters: list[tuple[Any, ...]] = field(default_factory=list)
    positions: dict[tuple[str, int], tuple[int, int | None]] = field(default_factory=dict)
    events: int = 0

    def __len__(self) -> int:
        return self.events


class Store:
    """An open read-model database (use as a context manager)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect: Dialect = _dialect(url)
        self._conn: Any
        try:
            if self.dialect == "sqlite":
                path = sqlite_path(url)
                if path and path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                self._conn = conn
            else:
                import psycopg

                conn_url = url.replace("postgresql+psycopg://", "postgresql://", 1)
                self._conn = psycopg.connect(conn_url, autocommit=True, connect_timeout=10)
        except Exception as exc:
            raise StoreError(
                f"cannot open {mask_url(url)}: {_scrub(str(exc), url).strip()}"
            ) from None

    # ------------------------------------------------------------------ plumbing

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    def _sql(self, statement: str) -> str:
        return statement if self.dialect == "sqlite" else statement.replace("?", "%s")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """One transaction; yields a cursor. Rolled back on any error."""
        if self.dialect == "sqlite":
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
        else:
            with self._conn.transaction(), self._conn.cursor() as cur:
                yield cur

    def execute(self, cur: Any, statement: str, params: Sequence[Any] = ()) -> None:
        cur.execute(self._sql(statement), tuple(params))

    def executemany(self, cur: Any, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            cur.executemany(self._sql(statement), rows)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts with portable Python values (see the module docstring)."""
        cur = self._conn.cursor()
        try:
            cur.execute(self._sql(statement), tuple(params))
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        finally:
            cur.close()
        return [
            {name: self._value(name, value) for name, value in zip(names, row, strict=True)}
            for row in rows
        ]

    def _value(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        if name in BOOL_COLUMNS:
            return bool(value)
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        if isinstance(value, date):
            return value.isoformat()
        if self.dialect == "sqlite" and isinstance(value, str):
            if name == "data":
                return orjson.loads(value)
            return _as_datetime(value)
        if type(value).__name__ == "Decimal":
            return float(value)
        return value

    # ------------------------------------------------------------------ typed values

    def ts(self, text: str | None) -> str | None:
        """An output timestamp as this database stores it."""
        if self.dialect == "sqlite":
            return ts_sqlite(text)
        return text

    def flag(self, value: bool | None) -> Any:
        if value is None or self.dialect == "postgresql":
            return value
        return 1 if value else 0

    def param_ts(self, moment: datetime) -> Any:
        """A ``datetime`` as a query parameter compared with a timestamp column."""
        if self.dialect == "sqlite":
            return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return moment

    # ------------------------------------------------------------------ schema

    def existing_tables(self) -> set[str]:
        if self.dialect == "sqlite":
            rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = self.query(
                "SELECT table_name AS name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            )
        return {str(r["name"]) for r in rows}

    def columns(self, relation: str) -> list[str]:
        """Column names of a table or view, in order."""
        if self.dialect == "sqlite":
            cur = self._conn.execute(f"SELECT * FROM {relation} LIMIT 0")
        else:
            cur = self._conn.execute(f"SELECT * FROM {relation} LIMIT 0")
        return [d[0] for d in cur.description]

    def ensure_schema(self, *, rebuild: bool = False) -> None:
        """Create (or with ``rebuild``, drop and re-create) the tables; re-create the views."""
        with self.transaction() as cur:
            for view in reversed(VIEW_NAMES):
                self.execute(cur, f"DROP VIEW IF EXISTS {view}")
            existing = self.existing_tables_in(cur)
            if rebuild:
                for table in TABLES:
                    if table in existing:
                        self.execute(cur, f"DROP TABLE {table}")
                existing = set()
            if "projector_meta" not in existing:
                for statement in table_ddl(self.dialect):
                    self.execute(cur, statement)
                self.execute(
                    cur,
                    "INSERT INTO projector_meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            else:
                self._migrate(cur)
            for statement in view_ddl(self.dialect):
                self.execute(cur, statement)

    def existing_tables_in(self, cur: Any) -> set[str]:
        if self.dialect == "sqlite":
            cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            cur.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            )
        return {str(r[0]) for r in cur.fetchall()}

    def _migrate(self, cur: Any) -> None:
        from .schema import MIGRATIONS

        self.execute(cur, "SELECT value FROM projector_meta WHERE key = 'schema_version'")
        row = cur.fetchone()
        found = int(row[0]) if row else 0
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"{self.masked_url} holds read-model schema version {found}, newer than this "
                f"program's {SCHEMA_VERSION}: upgrade lead-sla, or project into another database"
            )
        while found < SCHEMA_VERSION:
            steps = MIGRATIONS.get(found)
            if steps is None:
                raise StoreError(
                    f"no migration from read-model schema version {found}: use --rebuild"
                )
            for statement in steps:
                self.execute(cur, statement.format(**_types(self.dialect)))
            found += 1
        self.execute(
            cur,
            "UPDATE projector_meta SET value = ? WHERE key = 'schema_version'",
            (str(found),),
        )

    def meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM projector_meta WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as cur:
            self.execute(cur, "DELETE FROM projector_meta WHERE key = ?", (key,))
            self.execute(cur, "INSERT INTO projector_meta (key, value) VALUES (?, ?)", (key, value))

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every table's rows with portable values, sorted (positions without their time).

        Two databases that hold the same read models have equal snapshots, whichever kind
        they are and in whatever order their rows were written.
        """
        result: dict[str, list[tuple[Any, ...]]] = {}
        for table in TABLES:
            if table == "projector_meta":
                continue
            rows = self.query(f"SELECT * FROM {table}")
            if table == "projector_positions":
                rows = [{k: v for k, v in r.items() if k != "updated_at"} for r in rows]
            result[table] = sorted(
                (tuple(_canonical(v) for v in r.values()) for r in rows),
                key=repr,
            )
        return result

    # ------------------------------------------------------------------ positions and writes

    def positions(self, prefix: str) -> dict[tuple[str, int], tuple[int, int | None]]:
        """``(stream, part) -> (next_offset, byte_offset)`` for streams starting with prefix."""
        rows = self.query("SELECT stream, part, next_offset, byte_offset FROM projector_positions")
        return {
            (str(r["stream"]), int(r["part"])): (int(r["next_offset"]), r["byte_offset"])
            for r in rows
            if str(r["stream"]).startswith(prefix)
        }

    def apply(self, batch: Batch, now: datetime) -> None:
        """Write a batch and the positions it reached, all in one transaction."""
        with self.transaction() as cur:
            self.executemany(cur, SQL_FACT, list(batch.facts.values()))
            self.executemany(cur, SQL_TIMER, list(batch.timers.values()))
            self.executemany(cur, SQL_ALERT, batch.alerts)
            self.executemany(cur, SQL_TASK, batch.tasks)
            self.executemany(cur, SQL_CLOSING, batch.closings)
            self.executemany(cur, SQL_RETRACTION, batch.retractions)
            self.executemany(cur, SQL_RESPONSE, batch.responses)
            self.executemany(cur, SQL_DEAD_LETTER, batch.dead_letters)
            stamp = self.ts(now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
            self.executemany(
                cur,
                SQL_POSITION,
                [
                    (stream, part, offset, byte_offset, stamp)
                    for (stream, part), (offset, byte_offset) in batch.positions.items()
                ],
            )


def _types(dialect: Dialect) -> dict[str, str]:
    from .schema import TYPES

    return TYPES[dialect]


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return value
