"""Replay at scale: spill the input into lead-hash partitions on disk, merge ordered outputs.

Every rule of the engine is per lead, so a history can be cut by lead into partitions that are
folded independently (in parallel, one process per job) and whose outputs, each written in the
contract's order, are merged into the one ordered stream of SPEC.md section 7. Peak memory then
follows the largest partition, not the history, and the output is byte-identical whatever the
number of jobs or partitions: every lead lands in exactly one partition with its lines in file
order, and the order of the merged stream is a total order on the output records.

File formats (private to one run, in a temporary folder):

- a spill file holds the input lines of one part of the input (one part, or one per job, each
  a byte range spilled at once) routed to one partition, in file order, each as
  ``b"<line number within the part> <original line>\\n"``;
- a partition's output file holds its sorted records (:data:`~leadsla.codec.LineRecord`) as
  a sequence of marshalled lists (chunks; the file is read back by the same process or its
  parent, the same Python), read back lazily by :func:`merge`;
- a range file (several jobs) holds a partition's sorted records of one time range as a run:
  each record after its size (:func:`~leadsla.codec.pack_records`), merged by
  :func:`merge_runs_of` without a Python object per record.

With several jobs, the sorted outputs of every partition are cut into time ranges at bounds
chosen before the fold from a sample of the input's ``occurred_at`` (:func:`range_bounds`), one
file per partition and range (:class:`Ranges`); then each range is merged in a worker process
of its own and written straight into its place in the output file (its offset is the size of
the ranges before it), so the merge and the write run on every core, not in one process.
Every large write goes in pieces of at most :data:`~leadsla.outputs.WRITE_PIECE` bytes.

A partition folded in the replay's own process (one job) keeps its sorted outputs in memory
instead when they fit its share of :data:`OUTPUT_MEMORY` (:func:`keeps_in_memory`): writing
them to disk and reading them back was a tenth of the CPU of a one-job replay of 200,000 events,
whose outputs are seven times the size of its input.
"""

from __future__ import annotations

import contextlib
import io
import marshal
import os
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import orjson

from .codec import (
    InvalidEvent,
    LineRecord,
    decode_line,
    instant_sort_key,
    lines_size,
    merge_runs,
    pack_records,
    route_native,
    timestamp_micros,
)
from .domain.instant import Instant
from .outputs import WRITE_PIECE, write_pieces

PARTITION_BYTES = 12 << 20
"""Input bytes per partition (50,000 to 70,000 events): what one process holds at a time."""
PARALLEL_BYTES = 2 << 20
"""Below this size the replay runs in one process: starting workers would cost more."""
ONE_JOB_BYTES = 48 << 20
"""With one job, an input of at most this size is folded as one partition, without a spill
(about 260,000 events; their decoded events take about three times their bytes). Spilling and
reading the spill back were a tenth of a one-job replay of 200,000 events (36 MB of
``unanswered``: 2.13 s with three partitions, 1.92 s with one, 3 runs each), and holding every
decoded event at once took 77 MB more (maximum RSS 378 to 455 MB). A larger input is spilled
into partitions of :data:`PARTITION_BYTES`, so memory stays flat."""
OUTPUT_MEMORY = 384 << 20
"""Bytes of sorted outputs a replay keeps in memory rather than on disk, shared equally by its
partitions (a partition keeps all its outputs or none). Small histories never touch the disk
for their outputs; large ones keep at most this much, so memory stays flat."""
RECORD_OVERHEAD = 40
"""Bytes a kept :data:`~leadsla.codec.LineRecord` takes beyond its key and line (its bytes
object's header, its place in a list)."""
RANGES_PER_JOB = 4
"""Time ranges the merge is cut into per job (a range's size depends on the sample's luck, so
more ranges balance the processes better). Four rather than two was measured when the output
went through the page cache: a range's files are removed once read, so the more ranges, the more
of the output was written into pages the files before it freed (2 jobs on ``unanswered``:
1.9-2.1 s against 2.3-2.6 s with two, 4 interleaved runs each). Measured again with the writes
in 1 MiB pieces (medians of 5 interleaved runs): two ranges per job 1.26 s against 1.19 s with
four; eight 1.25 s against 1.28 s."""
SAMPLE_EVERY = 64
"""One line in this many gives its ``occurred_at`` to the sample the ranges are cut from."""
MERGE_MEMORY = 64 << 20
"""Bytes a merge holds at most in its partitions' current chunks: a merge holds one chunk of
every partition, so the more partitions, the smaller the chunks (:func:`chunk_records`)."""
RUN_WINDOW = 1 << 20
"""Bytes of a run's file read at a time by the merge (:func:`merge_runs_of`)."""
MERGE_OUT = WRITE_PIECE
"""Bytes of output lines the merge gathers before handing them on."""
_FLUSH_BYTES = 1 << 20
_CHUNK_RECORDS = 8192
_MIN_CHUNK_RECORDS = 64
_MARSHAL_VERSION = 2
"""No back-references: the records share no objects, and tracking them costs a fifth more."""

Sorted = Path | list[LineRecord]
"""A partition's sorted records: the file they were written to (:func:`write_records`), or
the list itself."""


def cpu_jobs() -> int:
    """The cores this process may run on (the default number of jobs)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def partition_count(size: int, jobs: int) -> int:
    """How many partitions a file of ``size`` bytes is cut into for ``jobs`` processes."""
    by_size = -(-size // PARTITION_BYTES)
    if jobs <= 1 and size <= ONE_JOB_BYTES:
        return 1
    if size < PARALLEL_BYTES:
        return max(1, by_size)
    # A multiple of the jobs: 3 partitions for 2 jobs left one process idle a third of the time.
    return -(-max(by_size, jobs) // jobs) * jobs


_NO_TIME = -(1 << 62)


class LatestBound:
    """An upper bound of the latest ``occurred_at`` among the valid events of a file, cheaply.

    Plain UTC texts (``YYYY-MM-DDTHH:MM:SS[.f]Z``, what most producers write) are compared by
    their first 19 characters, which sort like the instants they name; only the texts that tie
    for the greatest are parsed, at the end. Any other text is parsed at once. The bound is exact
    unless the greatest-looking text belongs to an invalid line (the caller checks that); it is
    None when it cannot be known this way (the greatest-looking texts are not timestamps).
    """

    __slots__ = ("_exact", "_head", "_seen", "_texts", "sample")

    def __init__(self) -> None:
        self._exact = _NO_TIME
        self._head = ""
        self._texts: set[str] = set()
        self._seen = 0
        self.sample: list[int] = []
        """The instant of every ``SAMPLE_EVERY``-th ``occurred_at`` (for :func:`range_bounds`);
        texts that are not timestamps are left out."""

    def add_text(self, text: str) -> None:
        """The ``occurred_at`` text of a line that looks like an event."""
        self._seen += 1
        if self._seen % SAMPLE_EVERY == 0:
            with contextlib.suppress(ValueError):
                self.sample.append(timestamp_micros(text))
        if len(text) >= 20 and text[19] in ".Z" and text[-1] == "Z" and text[10] == "T":
            head = text[:19]
            if head > self._head:
                self._head = head
                self._texts = {text}
            elif head == self._head:
                self._texts.add(text)
            return
        try:
            at = timestamp_micros(text)
        except ValueError:
            return  # not a timestamp: the line is invalid and does not count
        if at > self._exact:
            self._exact = at

    def add_event(self, at: Instant) -> None:
        """The ``occurred_at`` of a line, already read as an instant (plain UTC text: the same as
        :meth:`add_text` of that text)."""
        self._seen += 1
        if self._seen % SAMPLE_EVERY == 0:
            self.sample.append(at)
        self.add_instant(at)

    def state(self) -> tuple[int, str, list[str], list[int]]:
        """What :meth:`absorb` takes (plain values: a part's bound comes back from a worker
        process, pickled)."""
        return self._exact, self._head, sorted(self._texts), self.sample

    def absorb(self, state: tuple[int, str, list[str], list[int]]) -> None:
        """Add what another :class:`LatestBound` saw (its :meth:`state`)."""
        exact, head, texts, sample = state
        self.add_instant(exact)
        if head > self._head:
            self._head = head
            self._texts = set(texts)
        elif head == self._head:
            self._texts.update(texts)
        self.sample.extend(sample)

    def add_instant(self, at: int) -> None:
        if at > self._exact:
            self._exact = at

    def value(self) -> int | bool | None:
        """The bound; None: no line looks like an event; False: unknown (decode to find it)."""
        best = self._exact
        if self._texts:
            parsed = []
            for text in self._texts:
                try:
                    parsed.append(timestamp_micros(text))
                except ValueError:
                    return False  # the greatest-looking text is no timestamp: cannot bound
            best = max(best, *parsed)
        return None if best == _NO_TIME else best


def lead_key(raw: bytes, lineno: int, latest: LatestBound | None = None) -> str | None:
    """The lead a line belongs to, as the codec will decode it; None for an unusable line.

    With ``latest``, the line's ``occurred_at`` is added to it when the line looks like an event.
    """
    routed = route_native(raw)  # the same rule, read by the C decoder when built
    if routed is not None:
        if latest is not None:
            latest.add_event(routed[1])
        return routed[0]
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        obj = None
    if type(obj) is dict and "specversion" not in obj:
        lead = obj.get("lead_id")
        at = obj.get("occurred_at")
        if type(lead) is str and type(at) is str:
            if latest is not None:
                latest.add_text(at)
            return lead
    # The rare shapes (a CloudEvent, an odd field, a byte-order mark): ask the codec itself.
    try:
        event = decode_line(raw)
    except InvalidEvent:
        event = None
    if event is None and lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
        with contextlib.suppress(InvalidEvent):
            event = decode_line(raw[3:])
    if event is None:
        return None
    if latest is not None:
        latest.add_instant(event.occurred_at)
    return event.lead_id


def partition_of(lead_id: str | None, partitions: int) -> int:
    """A stable partition for a lead (CRC-32 of its UTF-8 id); unusable lines go to 0."""
    if lead_id is None or partitions == 1:
        return 0
    return zlib.crc32(lead_id.encode("utf-8", "surrogatepass")) % partitions


def spill(
    stream: BinaryIO,
    folder: Path,
    partitions: int,
    progress: TextIO | None = None,
    total_bytes: int = 0,
    progress_every: int = 20_000,
) -> tuple[int, LatestBound]:
    """Route every line of ``stream`` to its partition's spill file (as part 0 of one).

    Returns (lines read, the :class:`LatestBound` of every line, with its sample).
    """
    from .replay import progress_bar  # the one progress bar of replay

    def lines() -> Iterator[bytes]:
        for lineno, raw in enumerate(stream, start=1):
            if progress is not None and lineno % progress_every == 0:
                progress.write(progress_bar(stream.tell(), total_bytes, lineno))
                progress.flush()
            yield raw

    latest = LatestBound()
    count = _route(lines(), folder, partitions, 0, latest, True)
    if progress is not None and count >= progress_every:
        progress.write(progress_bar(total_bytes, total_bytes, count) + "\n")
    return count, latest


def spill_cuts(size: int, parts: int) -> list[int]:
    """Byte offsets that cut a file of ``size`` bytes into ``parts`` parts to spill at once (a
    part holds the lines that start in it)."""
    return [size * k // parts for k in range(parts + 1)]


def spill_part(
    path: str, cuts: list[int], part: int, folder: Path, partitions: int
) -> tuple[int, tuple[int, str, list[str], list[int]]]:
    """Route the lines that start between ``cuts[part]`` and ``cuts[part + 1]`` of the file at
    ``path`` to the partitions' spill files of this part, numbered from 1 within the part.

    Returns (lines read, :meth:`LatestBound.state`); :func:`spilled_lines` numbers the lines in
    the file once every part's count is known.
    """
    start, end = cuts[part], cuts[part + 1]
    latest = LatestBound()
    with open(path, "rb", buffering=1 << 20) as f:
        if start > 0:
            f.seek(start - 1)
            f.readline()  # the line that holds byte start - 1 is the part before's
        count = _route(_lines_before(f, end), folder, partitions, part, latest, start == 0)
    return count, latest.state()


def _lines_before(f: BinaryIO, end: int) -> Iterator[bytes]:
    """The lines of ``f`` from where it is that start before offset ``end``."""
    at = f.tell()
    while at < end:
        raw = f.readline()
        if not raw:
            return
        at += len(raw)
        yield raw


def _route(
    lines: Iterable[bytes],
    folder: Path,
    partitions: int,
    part: int,
    latest: LatestBound,
    at_start: bool,
) -> int:
    """Write ``lines`` to the spill files of ``part`` (each line as it is, with a newline) and
    their numbers, counted from 1 within the part, to its number files (8 bytes each); returns
    how many lines there were. ``at_start``: the first of ``lines`` is the file's first line,
    which may start with a byte-order mark."""
    files = [open(_spill_path(folder, i, part), "wb") for i in range(partitions)]  # noqa: SIM115
    number_files = [open(_numbers_path(folder, i, part), "wb") for i in range(partitions)]  # noqa: SIM115
    pending: list[list[bytes]] = [[] for _ in range(partitions)]
    numbers = [array("q") for _ in range(partitions)]
    sizes = [0] * partitions
    lineno = 0
    first = 1 if at_start else 0  # lead_key looks for a byte-order mark in line 1 only
    try:
        for raw in lines:
            lineno += 1
            i = partition_of(lead_key(raw, lineno * first, latest), partitions)
            if not raw.endswith(b"\n"):
                raw += b"\n"
            pending[i].append(raw)
            numbers[i].append(lineno)
            sizes[i] += len(raw)
            if sizes[i] >= _FLUSH_BYTES:
                _flush(files[i], pending[i], number_files[i], numbers[i])
                sizes[i] = 0
        for i in range(partitions):
            _flush(files[i], pending[i], number_files[i], numbers[i])
    finally:
        for f in files + number_files:
            f.close()
    return lineno


def _flush(
    lines_file: BinaryIO, lines: list[bytes], numbers_file: BinaryIO, numbers: array[int]
) -> None:
    lines_file.write(b"".join(lines))
    lines.clear()
    numbers_file.write(numbers.tobytes())
    del numbers[:]


def _spill_path(folder: Path, index: int, part: int) -> Path:
    return folder / f"spill-{index:04d}-{part:03d}.lines"


def _numbers_path(folder: Path, index: int, part: int) -> Path:
    return folder / f"spill-{index:04d}-{part:03d}.numbers"


def spilled_lines(folder: Path, index: int, firsts: list[int]) -> Iterator[tuple[int, bytes]]:
    """(line number, original line) of partition ``index``'s spill files, in file order;
    ``firsts[k]``: the lines of the input before part ``k``."""
    for part, before in enumerate(firsts):
        numbers = array("q", _numbers_path(folder, index, part).read_bytes())
        with open(_spill_path(folder, index, part), "rb") as f:
            for number, raw in zip(numbers, f, strict=True):
                yield before + number, raw


def range_bounds(sample: Iterable[Instant], ranges: int) -> list[bytes]:
    """Up to ``ranges - 1`` increasing key bounds that cut a sample of ``occurred_at`` instants
    into ranges of about equal size.

    A range holds the records whose key is at or after its lower bound and before its upper
    one. Any bounds give the same output; good ones give ranges of about the same work.
    """
    instants = sorted(sample)
    bounds: list[bytes] = []
    for r in range(1, ranges):
        if not instants:
            break
        bound = instant_sort_key(instants[len(instants) * r // ranges])
        if not bounds or bound > bounds[-1]:
            bounds.append(bound)
    return bounds


@dataclass(slots=True)  # not frozen: a frozen dataclass compiled by mypyc does not unpickle
class Ranges:
    """A partition's sorted records cut at the bounds: range ``r`` in :meth:`path` ``(r)``,
    with the bytes of its lines, newlines included (0: an empty range, which has no file)."""

    folder: Path
    index: int
    sizes: tuple[int, ...]

    def path(self, r: int) -> Path:
        return _range_path(self.folder, self.index, r)

    @staticmethod
    def write(
        folder: Path,
        index: int,
        records: list[LineRecord],
        bounds: list[bytes],
        chunk: int = _CHUNK_RECORDS,
    ) -> Ranges:
        """Write sorted ``records`` cut at ``bounds`` (in chunks of ``chunk`` records)."""
        # a bound is an instant's 8 bytes: every record of that instant or later sorts after it
        cuts = [0, *(bisect_left(records, bound) for bound in bounds)]
        cuts.append(len(records))
        sizes = []
        for r in range(len(cuts) - 1):
            part = records[cuts[r] : cuts[r + 1]]
            sizes.append(lines_size(part))
            if part:
                with open(_range_path(folder, index, r), "wb") as f:
                    for start in range(0, len(part), chunk):
                        write_pieces(f.write, pack_records(part, start, start + chunk))
        return Ranges(folder, index, tuple(sizes))


def _range_path(folder: Path, index: int, r: int) -> Path:
    return folder / f"out-{index:04d}-{r:03d}.run"


def merge_runs_of(paths: list[Path], write: Callable[[memoryview], object]) -> int:
    """Merge the runs written by :meth:`Ranges.write` in ``paths`` into output lines, handed to
    ``write`` a buffer at a time (each view is valid until ``write`` returns); the records
    written. Each file is removed as soon as it is open.

    The merge makes no Python object per record (:func:`~leadsla.codec.merge_runs`): a run is
    read into a window of :data:`RUN_WINDOW` bytes at a time.
    """
    files: list[io.FileIO] = []
    runs: list[list[Any]] = []
    out = bytearray(MERGE_OUT)
    count = 0
    try:
        for path in paths:
            files.append(io.FileIO(path))
            path.unlink()
            runs.append([bytearray(RUN_WINDOW), 0, 0])
        while runs:
            written, taken, stop = merge_runs(runs, out)
            count += taken
            if written:
                with memoryview(out) as view, view[:written] as lines:
                    write(lines)
            if stop >= 0:
                if not _read_run(runs[stop], files[stop]):
                    del runs[stop]
                    files.pop(stop).close()
            elif not written:  # a line longer than the buffer
                out = bytearray(2 * len(out))
    finally:
        for f in files:
            f.close()
    return count


def _read_run(run: list[Any], f: io.FileIO) -> bool:
    """Move a run's unread bytes to the start of its window and read more after them; False
    when the file has ended (with nothing left in the window)."""
    window, at, end = run
    rest = end - at
    if rest:
        window[:rest] = window[at:end]
    # The window grows for a record longer than it (or for the size of one, at least).
    need = 4 + int.from_bytes(window[:4], "little") if rest >= 4 else 4
    if need > len(window):
        window.extend(bytes(need - len(window)))
    with memoryview(window) as view, view[rest:] as free:
        got = f.readinto(free)
    run[1], run[2] = 0, rest + (got or 0)
    if got:
        return True
    if rest:
        raise RuntimeError(f"replay: a run file ends inside a record ({rest} bytes left)")
    return False


def records_size(records: list[LineRecord]) -> int:
    """About the bytes that ``records`` take in memory: their keys and lines and
    :data:`RECORD_OVERHEAD` each."""
    size = RECORD_OVERHEAD * len(records)
    for record in records:
        size += len(record)
    return size


def keeps_in_memory(size: int, partitions: int, budget: int) -> bool:
    """Whether a partition's sorted records of :func:`records_size` ``size`` fit its share of
    ``budget`` bytes."""
    return size <= budget // max(1, partitions)


def chunk_records(size: int, count: int, partitions: int) -> int:
    """Records per chunk in the output files of a partition of ``count`` records of
    :func:`records_size` ``size``: the merge of ``partitions`` such files then holds about
    :data:`MERGE_MEMORY` bytes (8,192 records at most, 64 at least)."""
    if not count:
        return _CHUNK_RECORDS
    fits = MERGE_MEMORY * count // (max(1, partitions) * size)
    return max(_MIN_CHUNK_RECORDS, min(_CHUNK_RECORDS, fits))


def write_records(path: Path, records: list[LineRecord], chunk: int = _CHUNK_RECORDS) -> None:
    """A partition's sorted records, as marshalled chunks of ``chunk`` records, each after its
    length (8 bytes): ``marshal.load`` on a file reads it a few bytes at a time, ``marshal.loads``
    does not."""
    with open(path, "wb") as f:
        for start in range(0, len(records), chunk):
            blob = marshal.dumps(records[start : start + chunk], _MARSHAL_VERSION)
            f.write(len(blob).to_bytes(8, "little"))
            write_pieces(f.write, blob)


def read_chunks(source: Sorted) -> Iterator[list[LineRecord]]:
    """A partition's sorted records, a chunk at a time, wherever they are.

    They are read once: a file is removed as soon as it is open, so that its pages are free
    again, for the output, once it has been read (on this machine, writing into pages the
    kernel has just freed is several times cheaper than into pages it has to find).
    """
    chunk: list[LineRecord]
    if isinstance(source, list):
        for start in range(0, len(source), _CHUNK_RECORDS):
            yield source[start : start + _CHUNK_RECORDS]
        return
    with open(source, "rb") as f:
        source.unlink()
        while size := f.read(8):
            chunk = marshal.loads(f.read(int.from_bytes(size, "little")))
            if chunk:
                yield chunk


def merge(sources: Iterable[Sorted]) -> Iterator[list[LineRecord]]:
    """The records of every partition, in (occurred_at, lead_id, type, event_id) order, a
    chunk at a time (:func:`~leadsla.codec.join_lines` makes a chunk the output's bytes).

    Chunk by chunk: every record up to the smallest last record of the partitions' current
    chunks can go (each partition's later records are at or after its own last one), and the
    sorted runs they form are merged by one ``list.sort`` (a C merge of runs).
    """
    readers = [read_chunks(source) for source in sources]
    buffers = [next(reader, []) for reader in readers]
    while True:
        live = [i for i, buffer in enumerate(buffers) if buffer]
        if not live:
            return
        bound = min(buffers[i][-1] for i in live)
        ready: list[LineRecord] = []
        for i in live:
            buffer = buffers[i]
            cut = bisect_right(buffer, bound)
            if cut == len(buffer):
                ready.extend(buffer)
                buffers[i] = next(readers[i], [])
            elif cut:
                ready.extend(buffer[:cut])
                buffers[i] = buffer[cut:]
        ready.sort()
        yield ready
