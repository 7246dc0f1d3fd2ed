"""``lead-sla simulate``: a reproducible, realistic workload of input events (SPEC.md section 2).

The command: its arguments, and where the lines go (a JSON-lines file, standard output, or the
input topics of a Kafka cluster). What it writes comes from :mod:`leadsla.simulation`: the
simulated organisation (``organisation``), its workload (``workload``) and the delivery's faults
(``faults``). The names other code uses (``generate``, ``iter_lines``, ``policy_toml``, ``TEAMS``,
...) are re-exported here.

With ``--bootstrap`` the lines are produced to the input topics (``leadsla.topics``; each type to
the topic of ``schemas.asyncapi.INPUT_TOPIC_TYPES``), with the connection settings of every other
command (``leadsla.settings``: ``LEADSLA_SECURITY_PROTOCOL``, ``LEADSLA_SASL_*``,
``LEADSLA_SSL_CAFILE``, ``LEADSLA_TOPIC_PREFIX``), so SASL and TLS clusters work too.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from leadsla.domain.instant import Instant, from_datetime, parse_rfc3339
from leadsla.outputs import OutputError, check_output, open_output
from leadsla.simulation import generate, iter_lines
from leadsla.simulation.faults import DUPLICATE_RATE, EARLY_LEAD_RATE, Line
from leadsla.simulation.organisation import (
    DEFAULT_MANAGER,
    HOLIDAYS,
    POLICY_TARGETS,
    TEAMS,
    TIMEZONE,
    WORK_END_MINUTE,
    WORK_START_MINUTE,
    Team,
    policy_toml,
    write_policy,
)
from leadsla.simulation.workload import DEFAULT_LEADS_PER_DAY, OTHER_SOURCES, PRIORITIES, SOURCES

__all__ = [
    "DEFAULT_LEADS_PER_DAY",
    "DEFAULT_MANAGER",
    "DEFAULT_START",
    "DUPLICATE_RATE",
    "EARLY_LEAD_RATE",
    "HOLIDAYS",
    "OTHER_SOURCES",
    "POLICY_TARGETS",
    "PRIORITIES",
    "SOURCES",
    "TEAMS",
    "TIMEZONE",
    "WORK_END_MINUTE",
    "WORK_START_MINUTE",
    "Line",
    "Team",
    "add_arguments",
    "generate",
    "iter_lines",
    "policy_toml",
    "run",
    "write_policy",
]

if TYPE_CHECKING:
    from leadsla.settings import Settings

DEFAULT_START = "2026-11-02T08:00:00Z"  # a Monday, 09:00 in Berlin
PROGRESS_EVERY = 20_000  # lines between two redraws of the progress bar (a terminal)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--leads", type=int, default=1000, help="number of leads (default 1000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--start",
        default=DEFAULT_START,
        help=f"RFC 3339 instant of the first day, or 'now' (default {DEFAULT_START})",
    )
    parser.add_argument(
        "--leads-per-day",
        type=float,
        default=DEFAULT_LEADS_PER_DAY,
        help="leads on an ordinary working day (default %(default)s)",
    )
    parser.add_argument(
        "--out",
        default="-",
        help="JSON-lines file, written whole or not at all (default or '-': standard output)",
    )
    parser.add_argument(
        "--bootstrap",
        "--bootstrap-servers",
        dest="bootstrap",
        metavar="HOSTS",
        default=None,
        help="Kafka bootstrap servers (host:port,...): produce to the input topics instead of "
        "writing a file; the rest of the connection (security protocol, SASL login, CA file) "
        "comes from the LEADSLA_* variables, as for every other command",
    )
    parser.add_argument(
        "--topic-prefix",
        "--prefix",
        dest="topic_prefix",
        default=None,
        help="prefix of the input topic names, with --bootstrap (default LEADSLA_TOPIC_PREFIX)",
    )
    parser.add_argument(
        "--invalid-rate",
        type=float,
        default=0.0,
        help="fraction of deliberately invalid lines (default 0)",
    )
    parser.add_argument(
        "--shuffle-window",
        type=float,
        default=0.0,
        help="delivery jitter in seconds against occurred_at (default 0)",
    )
    parser.add_argument(
        "--write-policy",
        metavar="FILE",
        default=None,
        help="also write the matching policy TOML to FILE, whole or not at all ('-': standard "
        "output, when the events go elsewhere)",
    )


def _start_instant(text: str) -> Instant:
    if text == "now":
        now = datetime.now(UTC).replace(microsecond=0)
        return from_datetime(now)
    return parse_rfc3339(text)


def run(args: argparse.Namespace) -> int:
    try:
        start = _start_instant(args.start)
    except ValueError as exc:
        print(f"lead-sla simulate: --start: {exc}", file=sys.stderr)
        return 2
    problem = _argument_problem(args)
    if problem:
        print(f"lead-sla simulate: {problem}", file=sys.stderr)
        return 2
    settings = None
    if args.bootstrap:
        from leadsla.settings import SettingsError, settings_for_command

        try:
            settings = settings_for_command(args.bootstrap, args.topic_prefix)
        except SettingsError as exc:
            print(f"lead-sla simulate: {exc}", file=sys.stderr)
            return 2
    try:
        if settings is None:
            check_output(args.out)
        if args.write_policy:
            if args.write_policy == "-" and args.out == "-" and settings is None:
                raise OutputError("--out and --write-policy cannot both be standard output ('-')")
            check_output(args.write_policy, [args.out])
            with open_output(args.write_policy) as stream:  # whole or not at all
                stream.write(policy_toml().encode("utf-8"))
    except OutputError as exc:
        print(f"lead-sla simulate: {exc}", file=sys.stderr)
        return 2
    lines = iter_lines(
        args.leads,
        args.seed,
        start,
        shuffle_window=args.shuffle_window,
        invalid_rate=args.invalid_rate,
        leads_per_day=args.leads_per_day,
    )
    # A progress bar on a terminal, unless the events themselves go to that terminal.
    shown_here = args.out == "-" and settings is None and sys.stdout.isatty()
    progress = sys.stderr if sys.stderr.isatty() and not shown_here else None
    counted = _Counted(lines, progress, args.leads)
    if settings is not None:
        try:
            topics = _produce(counted, settings)
        except Exception as exc:
            from kafka.errors import KafkaError  # only now: tests stand a fake in for kafka

            if not isinstance(exc, KafkaError):
                raise
            # a broker that does not answer: the work failed (exit 1)
            print(
                f"lead-sla simulate: cannot produce to Kafka at {args.bootstrap}: {exc}",
                file=sys.stderr,
            )
            return 1
        where = f"{args.bootstrap} (topics {', '.join(topics)})"
    else:
        try:
            _write(counted, args.out)
        except BrokenPipeError:  # `lead-sla simulate | head`: the reader has seen enough
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        where = "standard output" if args.out == "-" else args.out
    invalid = f", {counted.invalid} of them invalid" if args.invalid_rate else ""
    print(
        f"lead-sla simulate: {args.leads} leads, {counted.lines} lines{invalid} "
        f"(seed {args.seed}) to {where}",
        file=sys.stderr,
    )
    return 0


def _argument_problem(args: argparse.Namespace) -> str | None:
    if args.leads < 0 or args.shuffle_window < 0 or not 0 <= args.invalid_rate < 1:
        return "--leads and --shuffle-window must be >= 0, --invalid-rate in [0, 1)"
    if not 0 < args.leads_per_day <= 1_000_000:
        return f"--leads-per-day must be above 0 and at most 1000000, got {args.leads_per_day:g}"
    return None


class _Counted:
    """Counts the lines (and the invalid ones) that went through; with ``progress`` (a
    terminal) draws a bar, by the leads whose ``lead.created`` went through."""

    def __init__(self, lines: Iterator[Line], progress: TextIO | None = None, leads: int = 0):
        self._lines = lines
        self._progress = progress
        self._leads = leads
        self.lines = 0
        self.invalid = 0
        self.created = 0

    def __iter__(self) -> Iterator[Line]:
        progress = self._progress
        for line in self._lines:
            self.lines += 1
            if not line.valid:
                self.invalid += 1
            elif line.type == "lead.created":
                self.created += 1  # duplicates too: the bar stops at 99 % until the end
            if progress is not None and self.lines % PROGRESS_EVERY == 0:
                fraction = min(self.created / self._leads, 0.99) if self._leads else 0.0
                progress.write(_bar(fraction, self.lines))
                progress.flush()
            yield line
        if progress is not None and self.lines >= PROGRESS_EVERY:
            progress.write(_bar(1.0, self.lines) + "\n")
            progress.flush()


def _bar(fraction: float, lines: int, width: int = 30) -> str:
    """``simulate [#######.......]  45%  123,456 lines``, redrawn in place."""
    filled = round(fraction * width)
    return f"\rsimulate [{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%}  {lines:,} lines"


def _write(lines: Iterable[Line], out: str) -> None:
    buf: list[bytes] = []
    with open_output(out) as stream:
        for line in lines:
            buf.append(line.value)
            if len(buf) >= 4096:
                buf.append(b"")
                stream.write(b"\n".join(buf))
                buf.clear()
        if buf:
            buf.append(b"")
            stream.write(b"\n".join(buf))


def _produce(lines: Iterable[Line], settings: Settings) -> list[str]:
    """Key = lead_id, value = the JSON line, topic by type (README, "Topics and schemas").

    Returns the names of the topics it wrote to."""
    from kafka import KafkaProducer  # lazily: file mode does not need kafka-python

    from leadsla.schemas.asyncapi import INPUT_TOPIC_TYPES
    from leadsla.settings import client_config
    from leadsla.topics import LEADS_ACTIVITY

    topic_of = {
        event_type: settings.topic(topic)
        for topic, event_types in INPUT_TOPIC_TYPES.items()
        for event_type in event_types
    }
    # An invalid line's type may be none of SPEC's: such lines go where most types go.
    other = settings.topic(LEADS_ACTIVITY)
    producer = KafkaProducer(
        acks="all", linger_ms=20, client_id="lead-sla-simulate", **client_config(settings)
    )
    used: set[str] = set()
    try:
        for line in lines:
            topic = topic_of.get(line.type, other)
            used.add(topic)
            producer.send(
                topic,
                key=line.key.encode() if line.key is not None else None,
                value=line.value,
            )
        producer.flush()
    finally:
        producer.close()
    return sorted(used)
