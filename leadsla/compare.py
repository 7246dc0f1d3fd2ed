"""``lead-sla compare``: one history replayed under two policies, before anyone deploys the new one.

Per source and per owner: eligible leads, met, breached, compliance rate (met / decided, decided
= met or breached), pre-breach warnings, and the change from the current policy to the
candidate. Both runs use the same events and the same clock, so every difference is the policy's.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import orjson

from leadsla.arguments import readable

from .domain.engine import LeadResult
from .domain.instant import Instant, parse_rfc3339
from .domain.outputs import Fact
from .domain.policy import Policy
from .partition import cpu_jobs, partition_count
from .policy_file import PolicyError, load_policy
from .replay import (
    JobLost,
    LoadedEvents,
    ReplaySummary,
    add_scale_arguments,
    fold,
    run_partitioned,
)


@dataclass(slots=True)
class Tally:
    eligible: int = 0
    met: int = 0
    breached: int = 0
    warnings: int = 0

    @property
    def compliance(self) -> float | None:
        decided = self.met + self.breached
        return self.met / decided if decided else None


def tally(results: Iterable[LeadResult], dimension: str) -> dict[str, Tally]:
    """Final facts grouped by ``source`` or ``owner_id`` (unowned leads as ``(none)``)."""
    groups: dict[str, Tally] = {}
    for result in results:
        if result.fact is not None:
            _count(groups, result.fact, dimension)
    return groups


def _count(groups: dict[str, Tally], fact: Fact, dimension: str) -> None:
    value = getattr(fact, dimension)
    key = str(value) if value is not None else "(none)"
    group = groups.get(key)
    if group is None:
        group = groups[key] = Tally()
    if fact.eligible:
        group.eligible += 1
    if fact.status == "met":
        group.met += 1
    elif fact.status == "breached":
        group.breached += 1
    if fact.pre_breach_warned:
        group.warnings += 1


_DIMENSIONS = ("source", "owner_id", "policy_version")
_Tallies = dict[str, dict[str, Tally]]
"""dimension -> group -> tally."""

_POLICIES: list[Policy] = []
"""The policies of the running compare, set before the workers start (they inherit them)."""


def _tally_work(
    index: int, loaded: LoadedEvents, clock: Instant | None
) -> tuple[list[_Tallies], list[tuple[int, str]], int]:
    """One partition under every policy: its tallies per dimension (run in a worker), the
    lines it could not read and how many events it read."""
    found: list[_Tallies] = []
    for policy in _POLICIES:
        tallies: _Tallies = {dimension: {} for dimension in _DIMENSIONS}

        def add(result: LeadResult, tallies: _Tallies = tallies) -> None:
            if result.fact is not None:
                for dimension, groups in tallies.items():
                    _count(groups, result.fact, dimension)

        if clock is not None:
            fold(loaded, policy, clock, ReplaySummary(), add)
        found.append(tallies)
    return found, list(loaded.invalid), loaded.events_read


def _merge_tallies(parts: Iterable[_Tallies]) -> _Tallies:
    merged: _Tallies = {dimension: {} for dimension in _DIMENSIONS}
    for part in parts:
        for dimension, groups in part.items():
            target = merged[dimension]
            for key, t in groups.items():
                total = target.get(key)
                if total is None:
                    total = target[key] = Tally()
                total.eligible += t.eligible
                total.met += t.met
                total.breached += t.breached
                total.warnings += t.warnings
    return merged


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _delta_rate(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "-"
    return f"{100 * (b - a):+.1f} pt"


def compare_rows(current: dict[str, Tally], candidate: dict[str, Tally]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for key in sorted(set(current) | set(candidate)):
        a = current.get(key, Tally())
        b = candidate.get(key, Tally())
        rows.append(
            {
                "key": key,
                "eligible": [a.eligible, b.eligible],
                "met": [a.met, b.met],
                "breached": [a.breached, b.breached],
                "compliance": [a.compliance, b.compliance],
                "warnings": [a.warnings, b.warnings],
            }
        )
    return rows


def render_table(title: str, rows: list[dict[str, object]]) -> str:
    header = (
        f"{title:<22} {'eligible':>13} {'met':>13} {'breached':>13} "
        f"{'compliance':>17} {'change':>9} {'warnings':>13}"
    )
    lines = [header, "-" * len(header)]

    def pair(values: object) -> str:
        a, b = cast("tuple[object, object]", values)
        return f"{a!s:>5} -> {b!s:<5}"

    for row in rows:
        ca, cb = cast("tuple[float | None, float | None]", row["compliance"])
        lines.append(
            f"{str(row['key'])[:22]:<22} {pair(row['eligible']):>13} {pair(row['met']):>13} "
            f"{pair(row['breached']):>13} {_rate(ca):>7} -> {_rate(cb):<7} "
            f"{_delta_rate(ca, cb):>9} {pair(row['warnings']):>13}"
        )
    return "\n".join(lines)


def compare(
    events_path: str,
    current: Policy,
    candidate: Policy,
    now: str | None = None,
    *,
    jobs: int | None = None,
    partitions: int | None = None,
    skipped_lines: list[tuple[int, str]] | None = None,
) -> dict[str, list[dict[str, object]]]:
    """Both policies over the same history, through replay's partitioned path.

    Lines that could not be read are added to ``skipped_lines`` (line, reason); a history with
    no usable event at all is a ``ValueError``.
    """
    clock = parse_rfc3339(now) if now is not None else None
    jobs = cpu_jobs() if jobs is None else max(1, jobs)
    _POLICIES[:] = [current, candidate]
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with (
            open(events_path, "rb") as stream,
            tempfile.TemporaryDirectory(prefix="lead-sla-compare-") as tmp,
        ):
            size = os.fstat(stream.fileno()).st_size
            count = partitions if partitions is not None else partition_count(size, jobs)
            done = run_partitioned(
                stream,
                _tally_work,
                Path(tmp),
                now=clock,
                jobs=jobs,
                partitions=max(1, count),
                progress=sys.stderr if sys.stderr.isatty() else None,  # a bar on a terminal
                total_bytes=size,
                input_path=events_path,
            )
    finally:
        _POLICIES.clear()
        if gc_was_enabled:
            gc.enable()
    tallies_a = _merge_tallies(part[0][0] for part in done.results)
    tallies_b = _merge_tallies(part[0][1] for part in done.results)
    skipped = sorted(line for part in done.results for line in part[1])
    events = sum(part[2] for part in done.results)
    if skipped_lines is not None:
        skipped_lines.extend(skipped)
    if events == 0:
        raise ValueError(
            f"no usable event in {events_path}: {done.lines_read} lines read, "
            f"{len(skipped)} of them invalid"
        )
    report: dict[str, list[dict[str, object]]] = {}
    for dimension, name in (("source", "by_source"), ("owner_id", "by_owner")):
        report[name] = compare_rows(tallies_a[dimension], tallies_b[dimension])
    total_a = tallies_a["policy_version"]
    total_b = tallies_b["policy_version"]
    report["total"] = compare_rows(
        {"all leads": _sum(total_a.values())}, {"all leads": _sum(total_b.values())}
    )
    return report


def _sum(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for t in tallies:
        total.eligible += t.eligible
        total.met += t.met
        total.breached += t.breached
        total.warnings += t.warnings
    return total


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "events", metavar="EVENTS.jsonl", help="input events, JSON lines ('-': standard input)"
    )
    parser.add_argument(
        "--policy", required=True, metavar="CURRENT.toml", help="the policy in force now"
    )
    parser.add_argument(
        "--candidate", required=True, metavar="NEW.toml", help="the policy you consider deploying"
    )
    parser.add_argument("--now", metavar="T", help="clock for both runs (default: latest event)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_scale_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        current = load_policy(args.policy)
        candidate = load_policy(args.candidate)
    except PolicyError as exc:
        sys.stderr.write(f"lead-sla compare: policy refused: {exc}\n")
        return 2
    if args.now is not None:
        try:
            parse_rfc3339(args.now)
        except ValueError as exc:
            sys.stderr.write(f"lead-sla compare: --now: {exc}\n")
            return 2
    skipped: list[tuple[int, str]] = []
    with readable(args.events) as events_path:
        try:
            report = compare(
                events_path,
                current,
                candidate,
                args.now,
                jobs=args.jobs,
                partitions=args.partitions,
                skipped_lines=skipped,
            )
        except BrokenPipeError:
            raise  # the reader went away; cli.main ends quietly
        except (OSError, ValueError) as exc:
            message = str(exc)
            if events_path != args.events:  # standard input, spooled: not the spool's name
                message = message.replace(events_path, "standard input")
            sys.stderr.write(f"lead-sla compare: {message}\n")
            return 2
        except JobLost as lost:
            sys.stderr.write(f"lead-sla compare: {lost}\n")
            return 1
    for line, reason in skipped:  # as replay reports them
        sys.stderr.write(f"lead-sla compare: line {line}: {reason}\n")
    if skipped:
        sys.stderr.write(f"lead-sla compare: {len(skipped)} invalid lines skipped\n")
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    out = sys.stdout
    out.write(f"policy {current.version} -> candidate {candidate.version}\n\n")
    out.write(render_table("all leads", report["total"]) + "\n\n")
    out.write(render_table("source", report["by_source"]) + "\n\n")
    out.write(render_table("owner", report["by_owner"]) + "\n")
    return 0
