"""Replay at scale (issue 8): partitions and jobs never change a byte; the summary adds up.

The pinned input (``tests/data/pinned-2500.jsonl.gz``: ``lead-sla simulate --leads 2500 --seed 8
--invalid-rate 0.01 --shuffle-window 900``, generated once and checked in with copies of the
example policies) was replayed by the replay before issue 8; its output digests are below.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import random
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsla import partition, replay
from leadsla.cli import main
from leadsla.codec import instant_sort_key, record_line
from leadsla.codec.outputs import lead_sort_key
from leadsla.compare import compare
from leadsla.domain.instant import parse_rfc3339
from leadsla.partition import lead_key, partition_count, partition_of
from leadsla.policy_file import load_policy

DATA = Path(__file__).resolve().parents[1] / "data"

# sha256 of the output of the replay of main before issue 8 (commit 6f3e0bb) on the pinned input.
PINNED = {
    "pinned-business.toml": "b73106b1c2f53d58d2cce7e8414a700b90adbd2105ba10028183d7137cdf2667",
    "pinned-calendar.toml": "1b8ed5f718e7332d239492c26801579404febce41c7212430b5686f6749e5338",
    "pinned-business-windows.toml": (
        "d63eebb0538bdcfddd230dc3678b19444121e504a1e4f50573450ca47b2f4cee"
    ),
}
PINNED_NOW = "2026-11-10T12:00:00Z"
PINNED_NOW_DIGEST = "9612db8ddc5c976b0a94f05f96c0ea6cdb6f03f15ec2424ad95f817bba358ffc"


@pytest.fixture(scope="module")
def pinned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pinned") / "pinned.jsonl"
    path.write_bytes(gzip.decompress((DATA / "pinned-2500.jsonl.gz").read_bytes()))
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("policy", "jobs", "partitions"),
    [
        ("pinned-business.toml", 1, 1),
        ("pinned-business.toml", 2, 3),
        ("pinned-business.toml", 1, 7),
        ("pinned-calendar.toml", 1, 1),
        ("pinned-calendar.toml", 2, 4),
        ("pinned-business-windows.toml", 2, 2),
    ],
)
def test_pinned_input_gives_the_pinned_output_whatever_the_jobs_and_partitions(
    pinned: Path, tmp_path: Path, policy: str, jobs: int, partitions: int
) -> None:
    out = tmp_path / "out.jsonl"
    summary = replay.run_replay(
        str(pinned), str(DATA / policy), str(out), jobs=jobs, partitions=partitions
    )
    assert _digest(out) == PINNED[policy]
    assert summary.adds_up()
    assert summary.invalid_lines == 139
    assert summary.lines_read == 13392


@pytest.mark.parametrize("kept", ["none", "some", "all"])
def test_outputs_kept_in_memory_or_written_to_disk_give_the_same_bytes(
    pinned: Path, tmp_path: Path, kept: str
) -> None:
    # One job keeps a partition's sorted outputs in memory when they fit its share of the
    # output memory, else writes them to disk; the merge takes both. "some": a budget of the
    # size of the whole output, so a partition fits its seventh only if it is smaller than
    # average.
    policy = "pinned-calendar.toml"
    out = tmp_path / "out.jsonl"
    replay.run_replay(str(pinned), str(DATA / policy), str(out), jobs=1, partitions=1)
    lines = out.read_bytes().splitlines()
    whole = sum(len(line) for line in lines) + partition.RECORD_OVERHEAD * len(lines)
    budget = {"none": 0, "some": whole, "all": 2 * whole}[kept]
    out.unlink()
    summary = replay.run_replay(
        str(pinned), str(DATA / policy), str(out), jobs=1, partitions=7, output_memory=budget
    )
    assert _digest(out) == PINNED[policy]
    assert summary.adds_up()


def test_a_partition_keeps_its_outputs_in_memory_only_within_its_share() -> None:
    records = [b"%03d" % i + b"x" * 97 for i in range(10)]  # 100 bytes each
    need = partition.records_size(records)
    assert need == 10 * (100 + partition.RECORD_OVERHEAD)
    assert partition.keeps_in_memory(need, 3, 3 * need)
    assert not partition.keeps_in_memory(need, 3, 3 * need - 3)
    assert not partition.keeps_in_memory(need, 1, 0)
    assert partition.keeps_in_memory(partition.records_size([]), 1, 0)


def test_the_more_partitions_a_merge_reads_the_smaller_their_chunks() -> None:
    # A merge holds one chunk of every partition: its memory must not grow with the history.
    records = [b"x" * (1000 - partition.RECORD_OVERHEAD)] * 20_000  # 1,000 bytes each, kept
    size = partition.records_size(records)
    assert partition.chunk_records(size, len(records), 4) == 8192  # at most
    assert partition.chunk_records(size, len(records), 60) == partition.MERGE_MEMORY // 60 // 1000
    assert partition.chunk_records(size, len(records), 100_000) == 64  # at least
    assert partition.chunk_records(0, 0, 60) == 8192


@pytest.mark.parametrize(("jobs", "partitions"), [(1, 1), (2, 5)])
def test_pinned_input_with_now_gives_the_pinned_output(
    pinned: Path, tmp_path: Path, jobs: int, partitions: int
) -> None:
    out = tmp_path / "out.jsonl"
    summary = replay.run_replay(
        str(pinned),
        str(DATA / "pinned-business.toml"),
        str(out),
        PINNED_NOW,
        jobs=jobs,
        partitions=partitions,
    )
    assert _digest(out) == PINNED_NOW_DIGEST
    assert summary.after_now == 3536
    assert summary.adds_up()


def _dies_on_one(index: int) -> int:
    if index == 1:
        os._exit(9)  # as the out-of-memory killer would end it
    return index


@pytest.mark.timeout(60)
def test_a_worker_process_that_dies_fails_the_run_instead_of_hanging() -> None:
    # multiprocessing.Pool waited forever for the task of a process that died.
    assert replay._map(2, {}, _dies_on_one, 1) == [0]  # one task: in this process, no one dies
    with pytest.raises(replay.JobLost, match="fewer --jobs"):
        replay._map(2, {}, _dies_on_one, 3)


def test_the_cli_takes_jobs_and_partitions(pinned: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    code = main(
        [
            "replay",
            str(pinned),
            "--policy",
            str(DATA / "pinned-calendar.toml"),
            "--out",
            str(out),
            "--jobs",
            "2",
            "--partitions",
            "3",
        ]
    )
    assert code == 0
    assert _digest(out) == PINNED["pinned-calendar.toml"]


@pytest.mark.timeout(120)
def test_a_pipe_is_read_once_by_one_reader_whatever_the_jobs(pinned: Path, tmp_path: Path) -> None:
    # `lead-sla replay <(zcat events.jsonl.gz) --jobs 2 --partitions 3`: the spill in parts
    # reads byte ranges of a regular file; a pipe has none, and is spilled by one reader.
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(pinned.read_bytes()))
    writer.start()
    out = tmp_path / "out.jsonl"
    summary = replay.run_replay(
        str(fifo), str(DATA / "pinned-calendar.toml"), str(out), jobs=2, partitions=3
    )
    writer.join()
    assert _digest(out) == PINNED["pinned-calendar.toml"]
    assert summary.lines_read == 13392


def test_the_cli_with_jobs_writes_the_same_bytes_to_standard_output(
    pinned: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    # With several jobs the outputs are cut into time ranges; standard output takes them one
    # range after the other (a file takes them all at once, each at its offset).
    argv = ["replay", str(pinned), "--policy", str(DATA / "pinned-calendar.toml")]
    assert main([*argv, "--jobs", "2", "--partitions", "3"]) == 0
    written = capsysbinary.readouterr().out
    assert hashlib.sha256(written).hexdigest() == PINNED["pinned-calendar.toml"]


def test_compare_gives_the_same_report_whatever_the_jobs_and_partitions(pinned: Path) -> None:
    # compare goes through the same partitions and the same spill (in parts with several jobs)
    current = load_policy(str(DATA / "pinned-calendar.toml"))
    candidate = load_policy(str(DATA / "pinned-business.toml"))
    reports = []
    for jobs, partitions in [(1, 1), (1, 3), (2, 4), (2, 5)]:
        skipped: list[tuple[int, str]] = []
        report = compare(
            str(pinned), current, candidate, jobs=jobs, partitions=partitions, skipped_lines=skipped
        )
        assert len(skipped) == 139
        reports.append((report, skipped))
    assert all(found == reports[0] for found in reports)
    assert reports[0][0]["total"][0]["eligible"] != (0, 0)


# --------------------------------------------------------------------------------------------
# The spill in parts: each part reads the lines that start in its byte range


def _spilled(folder: Path, partitions: int, counts: list[int]) -> list[list[tuple[int, bytes]]]:
    """Each partition's (line number, line) pairs, in the order its reader gives them."""
    firsts = [sum(counts[:k]) for k in range(len(counts))]
    return [list(partition.spilled_lines(folder, i, firsts)) for i in range(partitions)]


def test_a_cut_anywhere_in_a_line_gives_every_line_once_with_its_number(tmp_path: Path) -> None:
    body = (
        b"\xef\xbb\xbf"
        + _ev("a", "lead.created", "L-1", "2026-03-02T09:00:00Z", source="chat").encode()
        + b"\n"
        b"\n"
        b"not json\r\n" + _ev("b", "lead.created", "L-2", "2026-03-02T09:01:00Z").encode() + b"\n"
        b"\n\n" + _ev("c", "lead.created", "L-3", "2026-03-02T09:02:00Z").encode()  # no newline
    )
    path = tmp_path / "in.jsonl"
    path.write_bytes(body)
    expected = [
        (n, raw if raw.endswith(b"\n") else raw + b"\n")
        for n, raw in enumerate(body.splitlines(keepends=True), start=1)
    ]
    with open(path, "rb") as stream:
        count, _ = partition.spill(stream, tmp_path, 3)
    in_one = _spilled(tmp_path, 3, [count])
    assert sorted(line for lines in in_one for line in lines) == expected
    # the first line, behind its byte-order mark, goes with its lead
    assert (1, expected[0][1]) in in_one[partition.partition_of("L-1", 3)]
    for cut in range(len(body) + 1):
        folder = tmp_path / f"cut-{cut}"
        folder.mkdir()
        cuts = [0, cut, len(body)]
        counts = [partition.spill_part(str(path), cuts, k, folder, 3)[0] for k in (0, 1)]
        assert _spilled(folder, 3, counts) == in_one, cut


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), parts=st.integers(1, 5), partitions=st.integers(1, 4))
def test_property_the_spill_in_parts_reads_what_the_spill_in_one_reads(
    tmp_path_factory: pytest.TempPathFactory, seed: int, parts: int, partitions: int
) -> None:
    rng = random.Random(seed)
    lines = [rng.choice(_HISTORY) for _ in range(rng.randint(0, 60))]
    folder = tmp_path_factory.mktemp("spill")
    path = folder / "in.jsonl"
    path.write_bytes("\n".join(lines).encode() + (b"\n" if rng.random() < 0.5 else b""))
    one = folder / "one"
    one.mkdir()
    with open(path, "rb") as stream:
        count, latest = partition.spill(stream, one, partitions)
    several = folder / "several"
    several.mkdir()
    cuts = partition.spill_cuts(path.stat().st_size, parts)
    found = [partition.spill_part(str(path), cuts, k, several, partitions) for k in range(parts)]
    assert sum(n for n, _ in found) == count
    assert _spilled(several, partitions, [n for n, _ in found]) == _spilled(
        one, partitions, [count]
    )
    combined = partition.LatestBound()
    for _, seen in found:
        combined.absorb(seen)
    assert combined.value() == latest.value()


# --------------------------------------------------------------------------------------------
# Time ranges of the parallel merge


def test_range_bounds_cut_the_sample_into_about_equal_ranges() -> None:
    instants = [parse_rfc3339(f"2026-03-{day:02d}T10:00:00Z") for day in range(28, 0, -1)]
    bounds = partition.range_bounds(instants, 4)
    assert bounds == sorted(set(bounds))
    assert [b[:8] for b in bounds] == [
        instant_sort_key(parse_rfc3339(f"2026-03-{day:02d}T10:00:00Z")) for day in (8, 15, 22)
    ]
    assert partition.range_bounds([parse_rfc3339("2026-03-01T10:00:00Z")] * 10, 4) == [
        instant_sort_key(parse_rfc3339("2026-03-01T10:00:00Z"))
    ]  # one instant: one bound, not three equal ones
    assert partition.range_bounds([], 4) == []
    assert partition.range_bounds(instants, 1) == []


def test_the_spill_samples_the_occurred_at_of_every_64th_line() -> None:
    texts = [f"2026-03-01T10:{n // 60:02d}:{n % 60:02d}Z" for n in range(200)]
    latest = partition.LatestBound()
    for text in texts:
        latest.add_text(text)
    assert latest.sample == [parse_rfc3339(texts[n]) for n in (63, 127, 191)]
    # a text that is no timestamp counts as a line but gives no sample
    odd = partition.LatestBound()
    for n, text in enumerate(texts):
        odd.add_text("not a time" if n == 63 else text)
    assert odd.sample == [parse_rfc3339(texts[n]) for n in (127, 191)]
    # lines decoded as events count alike, with their instants
    decoded = partition.LatestBound()
    for n, text in enumerate(texts):
        if n % 2:
            decoded.add_event(parse_rfc3339(text))
        else:
            decoded.add_text(text)
    assert decoded.sample == latest.sample
    assert decoded.value() == latest.value() == parse_rfc3339(texts[-1])


_BYTES = st.lists(st.sampled_from([b"\x00", b"\x01", b"\x7f", b"\xff"]), max_size=10).map(b"".join)
_INSTANTS = st.lists(st.sampled_from([b"\x00", b"\x01", b"\xff"]), min_size=8, max_size=8)
_RECORDS = st.tuples(
    _INSTANTS.map(b"".join), st.text("a\x00\x01", max_size=3), st.binary(max_size=6)
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.lists(_RECORDS, max_size=30), max_size=4),
    bounds=st.lists(st.one_of(st.binary(max_size=9), _BYTES), max_size=5),
    to_file=st.booleans(),
)
def test_property_any_time_ranges_give_the_merge_of_all_records(
    tmp_path_factory: pytest.TempPathFactory,
    parts: list[list[tuple[bytes, str, bytes]]],
    bounds: list[bytes],
    to_file: bool,
) -> None:
    # Whatever the bounds (empty ranges, every record in one range, bounds between records of
    # one key), the ranges of every partition, merged range by range, are the sorted records.
    folder = tmp_path_factory.mktemp("ranges")
    records = [
        [at + lead_sort_key(lead) + lead_sort_key("t") + b"line " + line for at, lead, line in part]
        for part in parts
    ]
    cut = sorted(set(bounds))
    ranged = [
        partition.Ranges.write(folder, i, sorted(part), cut) for i, part in enumerate(records)
    ]
    every = sorted(r for part in records for r in part)
    expected = b"".join(record_line(record) + b"\n" for record in every)
    if not ranged:
        return
    assert [sum(part.sizes[r] for part in ranged) for r in range(len(cut) + 1)] == [
        sum(len(record_line(record)) + 1 for record in every if _in(record, r, cut))
        for r in range(len(cut) + 1)
    ]
    if to_file:
        out = folder / "out.jsonl"
        written = replay._write_ranges(ranged, str(out), 1)
        assert out.read_bytes() == expected
    else:
        with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO())) as stdout:
            written = replay._write_ranges(ranged, "-", 1)
            stdout.flush()
            assert stdout.buffer.getvalue() == expected
    assert written == sum(len(part) for part in records)


def _in(key: bytes, r: int, bounds: list[bytes]) -> bool:
    low = bounds[r - 1] if r > 0 else None
    high = bounds[r] if r < len(bounds) else None
    return (low is None or key >= low) and (high is None or key < high)


# --------------------------------------------------------------------------------------------
# Every kind of line, counted once


def _ev(eid: str, type_: str, lead: str, at: str, **data: Any) -> str:
    return json.dumps(
        {"event_id": eid, "type": type_, "lead_id": lead, "occurred_at": at, "data": data}
    )


def _mixed_lines() -> list[str]:
    """Lines of every kind the summary counts."""
    lines = []
    for n in range(12):
        lead = f"L-{n}"
        lines.append(
            _ev(f"{lead}-c", "lead.created", lead, f"2026-03-02T09:{n:02d}:00Z", source="web_form")
        )
        lines.append(
            _ev(
                f"{lead}-o",
                "lead.owner_assigned",
                lead,
                f"2026-03-02T09:{n:02d}:30Z",
                owner_id="alice",
            )
        )
        if n % 3 == 0:
            lines.append(
                _ev(
                    f"{lead}-a",
                    "lead.activity_logged",
                    lead,
                    f"2026-03-02T09:{n + 20:02d}:00Z",
                    actor_id="alice",
                    actor_kind="person",
                    kind="call",
                )
            )
    lines += [
        lines[0],  # an identical repeat: a duplicate
        lines[1],  # another
        "{not json",  # invalid
        "",  # blank
        _ev("L-1-c", "lead.created", "L-1", "2026-03-02T08:00:00Z", source="chat"),  # conflict
        _ev("x-c", "lead.created", "L-late", "9999-12-31T22:30:00Z", source="web_form"),  # rule 16
        _ev("y-c", "lead.created", "L-later", "9999-12-31T23:30:00Z", source="web_form"),  # --now
        _ev(
            "h-1", "lead.owner_assigned", "L-ghost", "2026-03-02T09:00:00Z", owner_id="bob"
        ),  # held
        _ev(
            "r-1",
            "lead.breach_resolved",
            "L-3",
            "2026-03-02T09:30:00Z",
            resolved_by="carol",
            resolution_note="nothing",
        ),  # L-3 was answered: never breached, refused
    ]
    return lines


def test_the_summary_adds_up_with_every_kind_of_line(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(_mixed_lines()) + "\n")
    policy = tmp_path / "policy.toml"
    policy.write_text('default_manager = "mgr"\n')
    outputs = set()
    for partitions in (1, 3):
        out = tmp_path / f"out-{partitions}.jsonl"
        s = replay.run_replay(
            str(events),
            str(policy),
            str(out),
            "9999-12-31T23:00:00Z",
            jobs=1,
            partitions=partitions,
        )
        outputs.add(out.read_bytes())
        assert (s.duplicates, s.invalid_lines, s.blank_lines) == (2, 1, 1)
        # the conflicting lead.created, the year-9999 lead, the held event, the resolution
        assert s.refused == 4
        assert s.after_now == 1
        assert s.adds_up(), s.render()
        assert s.lines_read == len(_mixed_lines())
        reasons = " ".join(reason for _, reason in s.dead_letters)
        assert "conflicting_duplicate" in reasons
        assert "years 1-9999" in reasons
        assert all(line > 0 for line, _ in s.dead_letters)
    assert len(outputs) == 1


@pytest.mark.parametrize(
    "bad_at",
    ["2026-03-09T09:00:00Z", "2026-03-09T09:00:00+01:00", "9999-99-99T99:99:99Z"],
    ids=["later_invalid_event", "later_invalid_event_with_offset", "not_a_timestamp"],
)
def test_the_default_clock_is_right_when_the_latest_looking_line_is_invalid(
    tmp_path: Path, bad_at: str
) -> None:
    """The spill bounds the clock from the raw lines; an invalid latest line must not move it."""
    lines = _mixed_lines()[:20]
    lines.append(_ev("bad", "lead.created", "L-x", bad_at, source=""))  # invalid
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n")
    policy = tmp_path / "policy.toml"
    policy.write_text('default_manager = "mgr"\n')
    found = []
    for partitions in (1, 2, 4):
        out = tmp_path / f"out-{partitions}.jsonl"
        s = replay.run_replay(str(events), str(policy), str(out), jobs=1, partitions=partitions)
        assert s.invalid_lines == 1
        found.append((s.now, out.read_bytes()))
    assert found[0][0] is not None
    assert found[0][0] < parse_rfc3339("2026-03-03T00:00:00Z")
    assert found[1] == found[0] and found[2] == found[0]


def test_lines_of_one_lead_land_in_one_partition_whatever_their_shape() -> None:
    plain = _ev("e1", "lead.created", "L-7", "2026-03-02T09:00:00Z", source="chat").encode()
    cloud = json.dumps(
        {"specversion": "1.0", "id": "c", "source": "crm", "type": "x", "data": json.loads(plain)}
    ).encode()
    bom = b"\xef\xbb\xbf" + plain
    keys = {lead_key(plain, 5), lead_key(cloud, 6), lead_key(bom, 1)}
    assert keys == {"L-7"}
    assert lead_key(b"{not json", 3) is None
    assert lead_key(b"[]", 4) is None
    assert {partition_of("L-7", 5) for _ in range(3)} == {partition_of("L-7", 5)}


def test_small_files_stay_in_one_process_and_large_ones_use_every_job() -> None:
    assert partition_count(10_000, 2) == 1
    assert partition_count(10 << 20, 2) == 2
    assert partition_count(30 << 20, 1) == 1  # one job folds up to ONE_JOB_BYTES unspilled
    assert partition_count(48 << 20, 1) == 1
    assert partition_count((48 << 20) + 1, 1) == 5
    assert partition_count(100 << 20, 2) >= 4
    # a multiple of the jobs, so that no process waits for another's last partition
    assert partition_count(30 << 20, 2) == 4
    assert partition_count(30 << 20, 4) == 4
    assert partition_count(60 << 20, 4) == 8


# --------------------------------------------------------------------------------------------
# Property: line order never matters


_HISTORY = _mixed_lines()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), partitions=st.integers(1, 4))
def test_property_shuffling_the_lines_never_changes_the_output(
    tmp_path_factory: pytest.TempPathFactory, seed: int, partitions: int
) -> None:
    tmp = tmp_path_factory.mktemp("shuffle")
    policy = tmp / "policy.toml"
    policy.write_text('default_manager = "mgr"\n[[targets]]\nminutes = 30\n')
    reference = tmp / "reference.jsonl"
    reference.write_text("\n".join(_HISTORY) + "\n")
    expected = tmp / "expected.jsonl"
    replay.run_replay(str(reference), str(policy), str(expected), jobs=1, partitions=1)
    lines = list(_HISTORY)
    random.Random(seed).shuffle(lines)
    shuffled = tmp / "shuffled.jsonl"
    shuffled.write_text("\n".join(lines) + "\n")
    out = tmp / "out.jsonl"
    summary = replay.run_replay(str(shuffled), str(policy), str(out), jobs=1, partitions=partitions)
    assert out.read_bytes() == expected.read_bytes()
    assert summary.adds_up()


def test_a_file_of_records_is_read_once_and_removed(tmp_path: Path) -> None:
    records = [n.to_bytes(8, "big") + b"L\x00\x00T\x00\x00{}" for n in range(100)]
    path = tmp_path / "out.marshal"
    partition.write_records(path, records, chunk=7)
    chunks = partition.read_chunks(path)
    first = next(chunks)
    assert not path.exists()  # gone once open: its pages are freed when it is closed
    assert [r for chunk in [first, *chunks] for r in chunk] == records
