"""The embedded mode (SPEC.md section 7): replay input events from a JSON-lines file, no broker.

Reads every line, groups valid events by lead, folds each lead with the pure engine up to
``--now`` (event time is the clock) and writes every output as JSON lines ordered by
(occurred_at, lead_id, type, event_id). Invalid lines, dead letters and held events whose lead
never appeared are reported on standard error with their line numbers; the exit code is 0 unless
the policy or the file is unusable.

At scale (``leadsla.partition``): a large file is spilled into lead-hash partitions, each
partition is decoded and folded on its own (``--jobs`` processes, by default one per core) and
writes its outputs sorted, and the sorted partitions are merged. Each lead's outputs are encoded
as soon as the lead is folded. The output is byte-identical whatever the jobs or partitions.

The summary adds up: lines read = events applied + duplicates + invalid lines + refused by the
engine (rule 15 conflicts, rule 16 refusals, held events whose lead never appeared) + events
after ``--now`` (+ blank lines, which are neither events nor errors).
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import stat
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO, TypeVar

from leadsla.arguments import positive_int, readable

from .codec import (
    InvalidEvent,
    LineRecord,
    decode_line,
    encode_lead_lines,
    join_lines,
    record_line,
    sort_records,
)
from .domain.engine import LeadResult, evaluate
from .domain.events import InputEvent
from .domain.instant import Instant, format_utc, parse_rfc3339
from .domain.policy import Policy
from .outputs import OutputError, check_output, open_output, pwrite_pieces, write_pieces
from .partition import (
    OUTPUT_MEMORY,
    RANGES_PER_JOB,
    LatestBound,
    Ranges,
    Sorted,
    chunk_records,
    cpu_jobs,
    keeps_in_memory,
    merge,
    merge_runs_of,
    partition_count,
    range_bounds,
    read_chunks,
    records_size,
    spill,
    spill_cuts,
    spill_part,
    spilled_lines,
    write_records,
)
from .policy_file import PolicyError, load_policy

PROGRESS_EVERY = 20_000

R = TypeVar("R")


@dataclass(slots=True)
class LoadedEvents:
    """Valid events grouped by lead (in line order), with what could not be used."""

    by_lead: dict[str, list[InputEvent]] = field(default_factory=dict)
    lines_of: dict[str, list[int]] = field(default_factory=dict)
    """Line numbers parallel to ``by_lead`` (read only when something must be reported)."""
    invalid: list[tuple[int, str]] = field(default_factory=list)
    lines_read: int = 0
    events_read: int = 0
    blank_lines: int = 0
    latest: Instant | None = None

    def line_number(self, lead_id: str, event: InputEvent) -> int:
        """The line an event was read from (0 if unknown)."""
        events, lines = self.by_lead.get(lead_id, []), self.lines_of.get(lead_id, [])
        for candidate, line in zip(events, lines, strict=True):
            if candidate is event:
                return line
        for candidate, line in zip(events, lines, strict=True):
            if candidate == event:
                return line
        return 0


@dataclass(slots=True)
class ReplaySummary:
    lines_read: int = 0
    events_read: int = 0
    events_applied: int = 0
    invalid_lines: int = 0
    duplicates: int = 0
    refused: int = 0
    """Events the engine refused: rule 15 conflicts, rule 16, held events without a lead."""
    after_now: int = 0
    blank_lines: int = 0
    leads: int = 0
    outputs_written: int = 0
    now: Instant | None = None
    outputs_by_type: Counter[str] = field(default_factory=Counter)
    dead_letters: list[tuple[int, str]] = field(default_factory=list)

    def absorb(self, part: ReplaySummary) -> None:
        """Add a partition's counts to this summary."""
        self.events_read += part.events_read
        self.events_applied += part.events_applied
        self.invalid_lines += part.invalid_lines
        self.duplicates += part.duplicates
        self.refused += part.refused
        self.after_now += part.after_now
        self.blank_lines += part.blank_lines
        self.leads += part.leads
        self.outputs_by_type.update(part.outputs_by_type)
        self.dead_letters.extend(part.dead_letters)

    def adds_up(self) -> bool:
        return self.lines_read == (
            self.events_applied
            + self.duplicates
            + self.invalid_lines
            + self.refused
            + self.after_now
            + self.blank_lines
        )

    def render(self) -> str:
        now = format_utc(self.now) if self.now is not None else "-"
        lines = [
            f"replay: {self.lines_read} lines read, {self.events_applied} events applied to "
            f"{self.leads} leads, {self.outputs_written} outputs written (clock at {now})",
            f"  invalid lines skipped: {self.invalid_lines}; duplicates ignored: "
            f"{self.duplicates}; refused by the engine: {self.refused}; events after --now not "
            f"applied: {self.after_now}"
            + (f"; blank lines: {self.blank_lines}" if self.blank_lines else ""),
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


# --------------------------------------------------------------------------------------------
# Decoding: numbered lines -> events grouped by lead


def decode_lines(pairs: Iterable[tuple[int, bytes]]) -> LoadedEvents:
    """Decode numbered lines; an invalid one is recorded with its line number and skipped."""
    loaded = LoadedEvents()
    by_lead = loaded.by_lead
    lines_of = loaded.lines_of
    invalid = loaded.invalid
    latest = -(1 << 62)
    events_read = 0
    lines = 0
    blank = 0
    for lineno, raw in pairs:
        lines += 1
        try:
            event = decode_line(raw)
        except InvalidEvent as exc:
            after_bom = _after_bom(raw) if lineno == 1 else None
            if after_bom is None:
                if raw.strip():
                    invalid.append((lineno, exc.reason))
                else:
                    blank += 1  # blank lines are not events, and not errors either
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
    loaded.lines_read = lines
    loaded.events_read = events_read
    loaded.blank_lines = blank
    loaded.latest = latest if events_read else None
    return loaded


def _numbered(
    stream: BinaryIO, progress: TextIO | None, total_bytes: int
) -> Iterator[tuple[int, bytes]]:
    lineno = 0
    for lineno, raw in enumerate(stream, start=1):
        if progress is not None and lineno % PROGRESS_EVERY == 0:
            progress.write(progress_bar(stream.tell(), total_bytes, lineno))
            progress.flush()
        yield lineno, raw
    if progress is not None and lineno >= PROGRESS_EVERY:
        progress.write(progress_bar(total_bytes, total_bytes, lineno) + "\n")


def read_events(
    stream: BinaryIO, progress: TextIO | None = None, total_bytes: int = 0
) -> LoadedEvents:
    """Decode every line of a whole file (see :func:`decode_lines`).

    With ``progress`` (a terminal), a progress bar is drawn every ``PROGRESS_EVERY`` lines.
    """
    return decode_lines(_numbered(stream, progress, total_bytes))


def _after_bom(raw: bytes) -> InputEvent | None:
    """A first line behind a UTF-8 byte-order mark (spreadsheet exports write one)."""
    if not raw.startswith(b"\xef\xbb\xbf"):
        return None
    try:
        return decode_line(raw[3:])
    except InvalidEvent:
        return None


# --------------------------------------------------------------------------------------------
# Folding: one partition's leads through the engine


def fold(
    loaded: LoadedEvents,
    policy: Policy,
    clock: Instant,
    summary: ReplaySummary,
    on_result: Callable[[LeadResult], None],
) -> None:
    """Fold every lead up to ``clock``; count each event once in ``summary``."""
    summary.events_read += loaded.events_read
    summary.invalid_lines += len(loaded.invalid)
    summary.blank_lines += loaded.blank_lines
    summary.dead_letters.extend(loaded.invalid)
    after_now = applied_total = duplicates = refused = leads = 0
    every_event_counts = loaded.latest is not None and loaded.latest <= clock
    for lead_id, events in loaded.by_lead.items():
        applied = events if every_event_counts else [e for e in events if e.occurred_at <= clock]
        if len(applied) != len(events):
            after_now += len(events) - len(applied)
            if not applied:
                continue
        result = evaluate(lead_id, applied, clock, policy)
        duplicates += result.duplicates
        not_applied = len(result.rejected) + len(result.held)
        applied_total += len(applied) - result.duplicates - not_applied
        if not_applied:
            refused += not_applied
            lines = loaded.lines_of.get(lead_id, [])
            line_of = {id(e): line for e, line in zip(events, lines, strict=True)}
            for rejection in result.rejected:
                line = line_of.get(id(rejection.event)) or loaded.line_number(
                    lead_id, rejection.event
                )
                summary.dead_letters.append((line, rejection.reason))
            for held in result.held:
                line = line_of.get(id(held)) or loaded.line_number(lead_id, held)
                summary.dead_letters.append(
                    (line, f"held event for lead {lead_id!r}, whose lead.created never appeared")
                )
        if result.fact is not None:
            leads += 1
        on_result(result)
    summary.after_now += after_now
    summary.events_applied += applied_total
    summary.duplicates += duplicates
    summary.refused += refused
    summary.leads += leads


def replay_loaded(
    loaded: LoadedEvents, policy: Policy, now: Instant | None
) -> tuple[list[LeadResult], ReplaySummary]:
    """Fold every lead up to ``now`` (default: the latest occurred_at read), in memory."""
    summary = ReplaySummary(lines_read=loaded.lines_read)
    clock = now if now is not None else loaded.latest
    summary.now = clock
    results: list[LeadResult] = []
    if clock is None:
        summary.events_read = loaded.events_read
        summary.invalid_lines = len(loaded.invalid)
        summary.blank_lines = loaded.blank_lines
        summary.dead_letters.extend(loaded.invalid)
        return results, summary
    fold(loaded, policy, clock, summary, results.append)
    summary.dead_letters.sort()
    return results, summary


def encode_results(results: list[LeadResult]) -> Iterator[bytes]:
    """Every output as one JSON line, in (occurred_at, lead_id, type, event_id) order."""
    records: list[LineRecord] = []
    counts: dict[str, int] = {}
    for result in results:
        encode_lead_lines(result.lead_id, result.outputs, records, counts)
    sort_records(records)
    for record in records:
        yield record_line(record)


# --------------------------------------------------------------------------------------------
# Partitions: the same work in one process or in several


PartitionWork = Callable[[int, LoadedEvents, Instant | None], R]
"""``work(partition, loaded, clock)``, run where the partition is (a worker process)."""

_STATE: dict[str, Any] = {}
"""What the worker processes inherit (fork): the work function, the folder, the clock, the
number of partitions, and ``pooled`` (true in a worker process)."""


def _init_state(state: dict[str, Any], pooled: bool = False) -> None:
    _STATE.clear()
    _STATE.update(state)
    _STATE["pooled"] = pooled


def _spill_task(part: int) -> tuple[int, tuple[int, str, list[str], list[int]]]:
    """Part ``part`` of the input through the spill (see :func:`spill_part`)."""
    return spill_part(_STATE["input"], _STATE["cuts"], part, _STATE["folder"], _STATE["partitions"])


def _latest_task(index: int) -> Instant | None:
    """The latest occurred_at of the partition's valid events."""
    return decode_lines(spilled_lines(_STATE["folder"], index, _STATE["firsts"])).latest


def _work_task(index: int) -> tuple[Instant | None, Any]:
    """A partition's events through the work: (the partition's latest valid instant, result)."""
    folder: Path = _STATE["folder"]
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        loaded = decode_lines(spilled_lines(folder, index, _STATE["firsts"]))
        return loaded.latest, _STATE["work"](index, loaded, _STATE["clock"])
    finally:
        if was_enabled:
            gc.enable()


def _map(jobs: int, state: dict[str, Any], task: Callable[[int], R], count: int) -> list[R]:
    if jobs <= 1 or count <= 1:
        _init_state(state)
        try:
            return [task(i) for i in range(count)]
        finally:
            _STATE.clear()
    context = multiprocessing.get_context("fork")  # the state is inherited, never pickled
    # Not multiprocessing.Pool: when one of its processes dies (the kernel's out-of-memory
    # killer, a kill -9), Pool.map waits for its task forever; the executor raises.
    with ProcessPoolExecutor(
        min(jobs, count), mp_context=context, initializer=_init_state, initargs=(state, True)
    ) as pool:
        try:
            return list(pool.map(task, range(count)))
        except BrokenProcessPool:
            raise JobLost(
                "a worker process ended before its work was done (killed, or out of memory?); "
                "nothing was written: try again with fewer --jobs"
            ) from None


class JobLost(Exception):  # compiled: RuntimeError cannot be a base
    """A worker process of the replay or compare died: the run cannot finish."""


@dataclass(slots=True)
class Partitioned:
    """What :func:`run_partitioned` hands back."""

    results: list[Any]
    lines_read: int
    clock: Instant | None
    folder: Path | None
    partitions: int


def run_partitioned(
    stream: BinaryIO,
    work: PartitionWork[R],
    folder: Path,
    *,
    now: Instant | None,
    jobs: int,
    partitions: int,
    progress: TextIO | None = None,
    total_bytes: int = 0,
    input_path: str | None = None,
) -> Partitioned:
    """Run ``work`` on every lead-hash partition of ``stream`` (in memory when only one).

    With several jobs and the ``input_path`` of ``stream``, the input is spilled by ``jobs``
    processes at once, each reading its own byte range of the file (not with a progress bar,
    which follows one reader).
    """
    if partitions <= 1:
        loaded = read_events(stream, progress, total_bytes)
        clock = now if now is not None else loaded.latest
        return Partitioned([work(0, loaded, clock)], loaded.lines_read, clock, None, 1)
    state: dict[str, Any] = {"folder": folder, "work": work, "partitions": partitions}
    size = _regular_size(stream, input_path) if jobs > 1 and progress is None else None
    if size is not None:
        state["input"], state["cuts"] = input_path, spill_cuts(size, jobs)
        latest = LatestBound()
        firsts = []
        lines_read = 0
        for count, seen in _map(jobs, state, _spill_task, jobs):
            firsts.append(lines_read)
            lines_read += count
            latest.absorb(seen)
    else:
        lines_read, latest = spill(
            stream, folder, partitions, progress, total_bytes, PROGRESS_EVERY
        )
        firsts = [0]
    state["firsts"] = firsts
    bound = latest.value()
    # Without --now the clock is the latest occurred_at of a valid event. The spill read an
    # upper bound of it from every line; it is exact unless the latest-looking line is invalid,
    # in which case the partitions, which decode for real, tell, and the work runs again.
    if jobs > 1:  # the work may cut its outputs into time ranges, to be merged on every core
        state["bounds"] = range_bounds(latest.sample, RANGES_PER_JOB * jobs)
    if now is None and bound is False:  # no cheap bound: decode once to find the clock
        found = [x for x in _map(jobs, state, _latest_task, partitions) if x is not None]
        bound = max(found) if found else None
    clock = now if now is not None else (None if bound is False else bound)
    state["clock"] = clock
    done = _map(jobs, state, _work_task, partitions)
    if now is None:
        found = [latest for latest, _ in done if latest is not None]
        actual = max(found) if found else None
        if actual != clock:
            clock = state["clock"] = actual
            done = _map(jobs, state, _work_task, partitions)
    return Partitioned([result for _, result in done], lines_read, clock, folder, partitions)


def _regular_size(stream: BinaryIO, path: str | None) -> int | None:
    """The size of the regular file ``stream`` reads from the start, if ``path`` names it (a
    pipe, such as ``<(zcat events.jsonl.gz)``, can be read only once, by one reader)."""
    if path is None:
        return None
    try:
        mine = os.fstat(stream.fileno())
        named = os.stat(path)
        at = stream.tell()
    except (OSError, ValueError):
        return None
    same = (mine.st_dev, mine.st_ino) == (named.st_dev, named.st_ino)
    return mine.st_size if stat.S_ISREG(mine.st_mode) and same and at == 0 else None


# --------------------------------------------------------------------------------------------
# The replay


def _replay_work(
    index: int, loaded: LoadedEvents, clock: Instant | None
) -> tuple[ReplaySummary, Sorted | Ranges]:
    """One partition's replay: (summary, its sorted records: cut into the time ranges of the
    parallel merge in a worker process, else in memory when they fit the partition's share of
    the output memory, else in the file they are written to)."""
    policy: Policy = _REPLAY["policy"]
    summary = ReplaySummary()
    records: list[LineRecord] = []
    if clock is not None:
        counts: dict[str, int] = {}

        def keep(result: LeadResult) -> None:
            if result.outputs:
                encode_lead_lines(result.lead_id, result.outputs, records, counts)

        fold(loaded, policy, clock, summary, keep)
        summary.outputs_by_type.update(counts)
    else:
        summary.events_read = loaded.events_read
        summary.invalid_lines = len(loaded.invalid)
        summary.blank_lines = loaded.blank_lines
        summary.dead_letters.extend(loaded.invalid)
    loaded.by_lead.clear()
    sort_records(records)
    folder: Path | None = _STATE.get("folder")
    if folder is None:
        return summary, records
    size = records_size(records)
    partitions: int = _STATE["partitions"]
    chunk = chunk_records(size, len(records), partitions)
    if _STATE["pooled"] and "bounds" in _STATE:
        return summary, Ranges.write(folder, index, records, _STATE["bounds"], chunk)
    # In the replay's own process the list is kept as it is; a worker process writes it (handing
    # it back through the pool's pipe was slower than the disk: pickled, copied, unpickled).
    if not _STATE["pooled"] and keeps_in_memory(size, partitions, _REPLAY["output_memory"]):
        return summary, records
    path = folder / f"out-{index:04d}.marshal"
    write_records(path, records, chunk)
    return summary, path


_REPLAY: dict[str, Any] = {}
"""The replay's policy, set before the workers start (they inherit it)."""


def run_replay(
    input_path: str,
    policy_path: str,
    out_path: str | None = None,
    now: str | None = None,
    *,
    err: TextIO | None = None,
    jobs: int | None = None,
    partitions: int | None = None,
    output_memory: int = OUTPUT_MEMORY,
) -> ReplaySummary:
    """The replay as a function (used by the CLI and the benchmark).

    ``jobs``: processes (default: one per core); ``partitions``: lead-hash partitions (default:
    from the file size); ``output_memory``: bytes of sorted outputs kept in memory rather than
    written to disk before the merge. None of them changes a byte of the output.
    """
    policy = load_policy(policy_path)
    clock = parse_rfc3339(now) if now is not None else None
    # The engine makes no reference cycles; the cyclic GC would rescan hundreds of thousands of
    # live containers again and again while nothing it could free exists.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_replay(
            input_path, policy, out_path, clock, err, jobs, partitions, output_memory
        )
    finally:
        if gc_was_enabled:
            gc.enable()


def _run_replay(
    input_path: str,
    policy: Policy,
    out_path: str | None,
    clock: Instant | None,
    err: TextIO | None,
    jobs: int | None,
    partitions: int | None,
    output_memory: int,
) -> ReplaySummary:
    progress = err if err is not None and err.isatty() else None
    jobs = cpu_jobs() if jobs is None else max(1, jobs)
    with (
        open(input_path, "rb") as stream,
        tempfile.TemporaryDirectory(prefix="lead-sla-replay-") as tmp,
    ):
        size = os.fstat(stream.fileno()).st_size
        count = partitions if partitions is not None else partition_count(size, jobs)
        _REPLAY["policy"] = policy
        _REPLAY["output_memory"] = output_memory
        try:
            done = run_partitioned(
                stream,
                _replay_work,
                Path(tmp),
                now=clock,
                jobs=jobs,
                partitions=max(1, count),
                progress=progress,
                total_bytes=size,
                input_path=input_path,
            )
        finally:
            _REPLAY.clear()
        summary = ReplaySummary(lines_read=done.lines_read, now=done.clock)
        for part, _ in done.results:
            summary.absorb(part)
        summary.dead_letters.sort()
        # Every partition's outputs are of one kind: time ranges (folded in worker processes),
        # else sorted lists or files (folded here).
        ranged = [part for _, part in done.results if isinstance(part, Ranges)]
        if ranged:
            if len(ranged) != len(done.results):
                raise RuntimeError("replay: partitions with outputs of two kinds")
            summary.outputs_written = _write_ranges(ranged, out_path, jobs)
            return summary
        if done.folder is None:
            ((_, records),) = done.results
            chunks: Iterator[list[LineRecord]] = read_chunks(records)
        else:
            chunks = merge(part for _, part in done.results)
        summary.outputs_written = _write(chunks, out_path)
    return summary


def _write_ranges(parts: list[Ranges], out_path: str | None, jobs: int) -> int:
    """Merge each time range of the partitions' outputs and write it in its place: in a file,
    every range at once (one process per job), each at the offset that the sizes of the
    ranges before it give; on standard output, one range after the other."""
    ranges = len(parts[0].sizes)
    if any(len(part.sizes) != ranges for part in parts):
        raise RuntimeError("replay: partitions cut into different time ranges")
    offsets = [0]
    for r in range(ranges):
        offsets.append(offsets[-1] + sum(part.sizes[r] for part in parts))
    path = out_path or "-"
    with open_output(path) as target:
        if path == "-":
            return sum(
                merge_runs_of(
                    _range_files(parts, r), lambda lines: write_pieces(target.write, lines)
                )
                for r in range(ranges)
            )
        state = {"parts": parts, "offsets": offsets, "fd": target.fileno()}
        return sum(_map(jobs, state, _write_range, ranges))


def _range_files(parts: list[Ranges], r: int) -> list[Path]:
    return [part.path(r) for part in parts if part.sizes[r]]


def _write_range(r: int) -> int:
    """Merge time range ``r`` of every partition into its place in the output file."""
    parts: list[Ranges] = _STATE["parts"]
    fd: int = _STATE["fd"]
    offset: int = _STATE["offsets"][r]
    at = [offset]

    def write(lines: memoryview) -> None:
        at[0] = pwrite_pieces(fd, lines, at[0])

    written = merge_runs_of(_range_files(parts, r), write)
    offset = at[0]
    if offset != _STATE["offsets"][r + 1]:
        raise RuntimeError(f"replay: range {r} wrote up to {offset}, not its size")
    return written


def _write(chunks: Iterator[list[LineRecord]], out_path: str | None) -> int:
    written = 0
    with open_output(out_path or "-") as target:  # a file appears whole or not at all
        for chunk in chunks:
            if chunk:
                written += len(chunk)
                write_pieces(target.write, join_lines(chunk))
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "events",
        metavar="EVENTS.jsonl",
        help="input events, one JSON per line ('-': standard input)",
    )
    parser.add_argument("--policy", required=True, metavar="P.toml", help="the SLA policy")
    parser.add_argument(
        "--now",
        metavar="T",
        help="RFC 3339 instant to advance the clock to (default: the latest occurred_at read)",
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        help="output file, written whole or not at all (default or '-': standard output)",
    )
    add_scale_arguments(parser)


def add_scale_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs",
        type=positive_int,
        metavar="N",
        help="processes that fold partitions in parallel (default: one per core)",
    )
    parser.add_argument(
        "--partitions",
        type=positive_int,
        metavar="N",
        help="lead-hash partitions the input is cut into (default: from the file size; "
        "the output does not depend on it)",
    )


def run(args: argparse.Namespace) -> int:
    err = sys.stderr
    try:
        check_output(args.out or "-", [args.events, args.policy])
    except OutputError as exc:
        err.write(f"lead-sla replay: {exc}\n")
        return 2
    with readable(args.events) as events_path:
        return _run(args, events_path, err)


def _run(args: argparse.Namespace, events_path: str, err: TextIO) -> int:
    if events_path != "-":
        unreadable = _unreadable(events_path)
        if unreadable is not None:
            err.write(f"lead-sla replay: {unreadable}\n")
            return 2
    try:
        summary = run_replay(
            events_path,
            args.policy,
            args.out,
            args.now,
            err=err,
            jobs=args.jobs,
            partitions=args.partitions,
        )
    except PolicyError as exc:
        err.write(f"lead-sla replay: policy {args.policy} refused: {exc}\n")
        return 2
    except BrokenPipeError:
        raise  # the reader went away; cli.main ends quietly
    except (OSError, ValueError) as problem:  # another name: compiled, `exc` is a PolicyError
        err.write(f"lead-sla replay: {problem}\n")
        return 2
    except JobLost as lost:
        err.write(f"lead-sla replay: {lost}\n")
        return 1
    for line, reason in summary.dead_letters:
        where = f"line {line}" if line else "input"
        err.write(f"lead-sla replay: {where}: {reason}\n")
    err.write(summary.render() + "\n")
    if summary.invalid_lines and summary.invalid_lines == summary.lines_read - summary.blank_lines:
        source = "standard input" if events_path == "-" else events_path
        err.write(
            f"lead-sla replay: no input event in {source}: all {summary.invalid_lines} lines "
            "invalid (replay reads input events; the output events that replay --out writes go "
            "to lead-sla project --input)\n"
        )
        return 2
    return 0


def _unreadable(path: str) -> str | None:
    """Why the events file ``path`` cannot be read, in words (None: it can be tried)."""
    target = Path(path)
    if target.is_dir():
        return f"{path} is a folder, not a file of events"
    if not target.exists():
        return f"no such file: {path}"
    if not os.access(target, os.R_OK):
        return f"cannot read {path}: permission denied"
    return None
