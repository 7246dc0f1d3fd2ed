"""The embedded mode (SPEC.md section 7): replay input events from a JSON-lines file, no broker.

Reads every line, groups valid events by lead, folds each lead with the pure engine up to
``--now`` (event time is the clock) and writes every output as JSON lines ordered by
(occurred_at, lead_id, type, event_id). Invalid lines, dead letters and held events whose lead
never appeared are reported on standard error with their line numbers; the exit code is 0 unless
the policy or the file is unusable.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, TextIO

from .codec import InvalidEvent, decode_line, encode_output_record
from .domain.engine import LeadResult, evaluate
from .domain.events import InputEvent
from .domain.instant import Instant, format_utc, parse_rfc3339
from .domain.policy import Policy, PolicyError, load_policy

PROGRESS_EVERY = 20_000


@dataclass(slots=True)
class LoadedEvents:
    """Valid events grouped by lead, with what could not be used."""

    by_lead: dict[str, list[InputEvent]] = field(default_factory=dict)
    lines_of: dict[str, list[int]] = field(default_factory=dict)
    """Line numbers parallel to ``by_lead`` (read only when something must be reported)."""
    invalid: list[tuple[int, str]] = field(default_factory=list)
    lines_read: int = 0
    events_read: int = 0
    latest: Instant | None = None

    def line_number(self, lead_id: str, event_id: str) -> int:
        """The line of an event's first occurrence (0 if unknown)."""
        events, lines = self.by_lead.get(lead_id, []), self.lines_of.get(lead_id, [])
        for event, line in zip(events, lines, strict=True):
            if event.event_id == event_id:
                return line
        return 0


@dataclass(slots=True)
class ReplaySummary:
    lines_read: int = 0
    events_read: int = 0
    events_applied: int = 0
    invalid_lines: int = 0
    duplicates: int = 0
    after_now: int = 0
    leads: int = 0
    outputs_written: int = 0
    now: Instant | None = None
    outputs_by_type: Counter[str] = field(default_factory=Counter)
    dead_letters: list[tuple[int, str]] = field(default_factory=list)

    def render(self) -> str:
        now = format_utc(self.now) if self.now is not None else "-"
        lines = [
            f"replay: {self.lines_read} lines read, {self.events_applied} events applied to "
            f"{self.leads} leads, {self.outputs_written} outputs written (clock at {now})",
            f"  invalid lines skipped: {self.invalid_lines}; duplicates ignored: "
            f"{self.duplicates}; events after --now not applied: {self.after_now}",
        ]
        if self.outputs_by_type:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(self.outputs_by_type.items()))
            lines.append(f"  outputs: {counts}")
        if self.dead_letters:
            lines.append(f"  dead letters: {len(self.dead_letters)}")
        return "\n".join(lines)


def progress_bar(done: int, total: int, lines: int, width: int = 30) -> str:
    """``replay [#######.......]  45%  123,456 lines`` (by bytes read: lines vary in size)."""
    fraction = min(done / total, 1.0) if total > 0 else 1.0
    filled = round(fraction * width)
    return f"\rreplay [{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%}  {lines:,} lines"


def read_events(
    stream: BinaryIO, progress: TextIO | None = None, total_bytes: int = 0
) -> LoadedEvents:
    """Decode every line; an invalid one is recorded with its line number and skipped.

    With ``progress`` (a terminal), a progress bar is drawn every ``PROGRESS_EVERY`` lines.
    """
    loaded = LoadedEvents()
    by_lead = loaded.by_lead
    lines_of = loaded.lines_of
    invalid = loaded.invalid
    latest = -(1 << 62)
    events_read = 0
    lineno = 0
    for lineno, raw in enumerate(stream, start=1):
        if progress is not None and lineno % PROGRESS_EVERY == 0:
            progress.write(progress_bar(stream.tell(), total_bytes, lineno))
            progress.flush()
        try:
            event = decode_line(raw)
        except InvalidEvent as exc:
            after_bom = _after_bom(raw) if lineno == 1 else None
            if after_bom is None:
                if raw.strip():  # blank lines are not events, and not errors either
                    invalid.append((lineno, exc.reason))
                continue
            event = after_bom
        events_read += 1
        lead_id = event.lead_id
        bucket = by_lead.get(lead_id)
        if bucket is None:
            by_lead[lead_id] = [event]
            lines_of[lead_id] = [lineno]
        else:
            bucket.append(event)
            lines_of[lead_id].append(lineno)
        if event.occurred_at > latest:
            latest = event.occurred_at
    if progress is not None and lineno >= PROGRESS_EVERY:
        progress.write(progress_bar(total_bytes, total_bytes, lineno) + "\n")
    loaded.lines_read = lineno
    loaded.events_read = events_read
    loaded.latest = latest if events_read else None
    return loaded


def _after_bom(raw: bytes) -> InputEvent | None:
    """A first line behind a UTF-8 byte-order mark (spreadsheet exports write one)."""
    if not raw.startswith(b"\xef\xbb\xbf"):
        return None
    try:
        return decode_line(raw[3:])
    except InvalidEvent:
        return None


def replay_loaded(
    loaded: LoadedEvents, policy: Policy, now: Instant | None
) -> tuple[list[LeadResult], ReplaySummary]:
    """Fold every lead up to ``now`` (default: the latest occurred_at read)."""
    summary = ReplaySummary(
        lines_read=loaded.lines_read,
        events_read=loaded.events_read,
        invalid_lines=len(loaded.invalid),
    )
    summary.dead_letters.extend(loaded.invalid)
    clock = now if now is not None else loaded.latest
    summary.now = clock
    results: list[LeadResult] = []
    if clock is None:
        return results, summary
    for lead_id, events in loaded.by_lead.items():
        applied = [e for e in events if e.occurred_at <= clock]
        summary.after_now += len(events) - len(applied)
        if not applied:
            continue
        result = evaluate(lead_id, applied, clock, policy)
        summary.duplicates += result.duplicates
        summary.events_applied += len(applied) - result.duplicates
        for rejection in result.rejected:
            line = loaded.line_number(lead_id, rejection.event.event_id)
            summary.dead_letters.append((line, rejection.reason))
        for held in result.held:
            line = loaded.line_number(lead_id, held.event_id)
            summary.dead_letters.append(
                (line, f"held event for lead {lead_id!r}, whose lead.created never appeared")
            )
        summary.events_applied -= len(result.held)
        if result.fact is not None:
            summary.leads += 1
        results.append(result)
    summary.dead_letters.sort()
    return results, summary


def encode_results(results: list[LeadResult]) -> Iterator[bytes]:
    """Every output as one JSON line, in (occurred_at, lead_id, type, event_id) order."""
    records: list[tuple[Instant, str, str, str, bytes]] = []
    append = records.append
    for result in results:
        lead_id = result.lead_id
        for out in result.outputs:
            event_id, line = encode_output_record(lead_id, out.type, out.occurred_at, out.data)
            append((out.occurred_at, lead_id, out.type, event_id, line))
    # Plain tuple order is (occurred_at, lead_id, type, event_id): the line only breaks a tie
    # between identical outputs, which event_id already makes equal.
    records.sort()
    for record in records:
        yield record[4]


def run_replay(
    input_path: str,
    policy_path: str,
    out_path: str | None = None,
    now: str | None = None,
    *,
    err: TextIO | None = None,
) -> ReplaySummary:
    """The replay as a function (used by the CLI and the benchmark)."""
    policy = load_policy(policy_path)
    clock = parse_rfc3339(now) if now is not None else None
    # The replay holds every output until it can sort them: hundreds of thousands of live
    # containers that the cyclic GC would rescan again and again while nothing it could free
    # exists (the engine makes no cycles). Pausing it halves the replay's time.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_replay(input_path, policy, out_path, clock, err)
    finally:
        if gc_was_enabled:
            gc.enable()


def _run_replay(
    input_path: str,
    policy: Policy,
    out_path: str | None,
    clock: Instant | None,
    err: TextIO | None,
) -> ReplaySummary:
    progress = err if err is not None and err.isatty() else None
    with open(input_path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        loaded = read_events(stream, progress, size)
    results, summary = replay_loaded(loaded, policy, clock)
    out = open(out_path, "wb") if out_path else None  # noqa: SIM115 - closed below
    try:
        target = out if out is not None else sys.stdout.buffer
        chunk: list[bytes] = []
        for line in encode_results(results):
            chunk.append(line)
            summary.outputs_written += 1
            if len(chunk) >= 4096:
                target.write(b"\n".join(chunk) + b"\n")
                chunk.clear()
        if chunk:
            target.write(b"\n".join(chunk) + b"\n")
        target.flush()
    finally:
        if out is not None:
            out.close()
    for result in results:
        for output in result.outputs:
            summary.outputs_by_type[output.type] += 1
    return summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("events", metavar="EVENTS.jsonl", help="input events, one JSON per line")
    parser.add_argument("--policy", required=True, metavar="P.toml", help="the SLA policy")
    parser.add_argument(
        "--now",
        metavar="T",
        help="RFC 3339 instant to advance the clock to (default: the latest occurred_at read)",
    )
    parser.add_argument("--out", metavar="FILE", help="output file (default: standard output)")


def run(args: argparse.Namespace) -> int:
    err = sys.stderr
    try:
        summary = run_replay(args.events, args.policy, args.out, args.now, err=err)
    except PolicyError as exc:
        err.write(f"lead-sla replay: policy {args.policy} refused: {exc}\n")
        return 2
    except BrokenPipeError:
        raise  # the reader went away; cli.main ends quietly
    except (OSError, ValueError) as exc:
        err.write(f"lead-sla replay: {exc}\n")
        return 2
    for line, reason in summary.dead_letters:
        where = f"line {line}" if line else "input"
        err.write(f"lead-sla replay: {where}: {reason}\n")
    err.write(summary.render() + "\n")
    return 0
