"""The parallel merge's runs, and large outputs written in pieces, give exactly the bytes asked for.

Given sorted runs of line records packed into files, when they are merged (in C, and by the
pure Python reference) through windows and an output buffer of any size, then the lines come in
the records' sorted order, each once. Given bytes of any size, when they are written in pieces,
then no write gets more than ``WRITE_PIECE`` bytes and the file holds them all, in order, at
their offset.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadsla import outputs as where
from leadsla import partition, replay
from leadsla.codec import outputs, pack_records, record_line
from leadsla.codec.outputs import lead_sort_key

records_of_runs = st.lists(
    st.lists(
        st.tuples(
            st.binary(min_size=8, max_size=8),
            st.text(min_size=1, max_size=6),
            st.binary(max_size=300).map(lambda b: b.replace(b"\n", b" ")),
        ),
        max_size=40,
    ),
    max_size=6,
)


def _records(runs: list[list[tuple[bytes, str, bytes]]]) -> list[list[bytes]]:
    return [
        sorted(
            at + lead_sort_key(lead) + lead_sort_key("t") + b"{" + line for at, lead, line in run
        )
        for run in runs
    ]


@pytest.mark.parametrize("impl", ["c", "python"])
@settings(max_examples=150, deadline=None)
@given(
    runs=records_of_runs,
    window=st.integers(min_value=1, max_value=700),
    out=st.integers(min_value=1, max_value=900),
    chunk=st.integers(min_value=1, max_value=50),
)
def test_merged_runs_are_the_sorted_records_lines_whatever_the_windows(
    tmp_path_factory: pytest.TempPathFactory,
    impl: str,
    runs: list[list[tuple[bytes, str, bytes]]],
    window: int,
    out: int,
    chunk: int,
) -> None:
    if impl == "c" and outputs._NATIVE is None:
        pytest.skip("the C encoder is not built (LEADSLA_PURE, or no make venv)")
    folder = tmp_path_factory.mktemp("runs")
    records = _records(runs)
    paths = []
    for i, run in enumerate(records):
        path = folder / f"run-{i}"
        with open(path, "wb") as f:
            for start in range(0, len(run), chunk):
                f.write(pack_records(run, start, start + chunk))
        paths.append(path)
    pieces: list[bytes] = []
    with pytest.MonkeyPatch.context() as patch:
        # Windows and an output buffer smaller than a record: both must grow.
        patch.setattr(partition, "RUN_WINDOW", window)
        patch.setattr(partition, "MERGE_OUT", out)
        if impl == "python":
            patch.setattr(partition, "merge_runs", outputs._merge_runs)
        count = partition.merge_runs_of(paths, lambda view: pieces.append(bytes(view)))

    every = sorted(record for run in records for record in run)
    assert b"".join(pieces) == b"".join(record_line(r) + b"\n" for r in every)
    assert count == len(every)
    assert not any(path.exists() for path in paths)  # removed once open


def test_the_c_merge_and_the_python_merge_stop_at_the_same_place() -> None:
    # Given the same runs and buffer, when each merge is called step by step, then each step
    # writes the same bytes and stops for the same run (the replay's loop relies on it).
    if outputs._NATIVE is None:
        pytest.skip("the C encoder is not built")
    rng = random.Random(7)
    raw = [
        [(rng.randbytes(8), rng.choice("abc"), rng.randbytes(rng.randrange(60))) for _ in range(30)]
        for _ in range(4)
    ]
    packed = [pack_records(run, 0, len(run)) for run in _records(raw)]
    for size in (1, 50, 200, 5000):
        states: list[list[list[Any]]] = [
            [[bytearray(p), 0, min(len(p), 333)] for p in packed] for _ in range(2)
        ]
        outs = [bytearray(size), bytearray(size)]
        for _ in range(400):
            got = [
                outputs._NATIVE.merge_runs(states[0], outs[0]),
                outputs._merge_runs(states[1], outs[1]),
            ]
            assert got[0] == got[1]
            assert outs[0][: got[0][0]] == outs[1][: got[1][0]]
            assert [run[1] for run in states[0]] == [run[1] for run in states[1]]
            written, _, stop = got[0]
            if stop >= 0:
                for state in states:
                    state[stop][2] = min(len(packed[stop]), state[stop][2] + 333)
            elif not written:
                break


def _record_pwrite_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Let os.pwrite write as before and note the size of every buffer it is given."""
    sizes: list[int] = []
    real_pwrite = os.pwrite

    def pwrite(fd: int, buffer: Any, at: int) -> int:
        sizes.append(len(buffer))
        return real_pwrite(fd, buffer, at)

    monkeypatch.setattr(os, "pwrite", pwrite)
    return sizes


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 4096 + 5])
@pytest.mark.parametrize("offset", [0, 7])
def test_large_writes_go_in_pieces_of_at_most_write_piece_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, offset: int
) -> None:
    monkeypatch.setattr(where, "WRITE_PIECE", 4096)
    data = random.Random(size).randbytes(size)
    pieces: list[bytes] = []
    where.write_pieces(lambda piece: pieces.append(bytes(piece)), data)
    assert b"".join(pieces) == data
    assert all(0 < len(piece) <= 4096 for piece in pieces)

    sizes = _record_pwrite_sizes(monkeypatch)
    path = tmp_path / "out"
    path.write_bytes(b"\xee" * offset)
    fd = os.open(path, os.O_WRONLY)
    try:
        assert where.pwrite_pieces(fd, data, offset) == offset + size
    finally:
        os.close(fd)
    assert path.read_bytes() == b"\xee" * offset + data
    assert all(0 < n <= 4096 for n in sizes)


def test_the_parallel_merge_writes_its_ranges_in_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ranges of two partitions, when they are merged into their places in the output file,
    # then the file holds every line in order, and no write got more than WRITE_PIECE bytes.
    monkeypatch.setattr(where, "WRITE_PIECE", 4096)
    rng = random.Random(11)
    raw = [
        [
            (rng.randbytes(8), rng.choice("abcd"), rng.randbytes(rng.randrange(300)))
            for _ in range(200)
        ]
        for _ in range(2)
    ]
    records = _records(raw)
    cut = sorted({record[:8] for run in records for record in run[::50]})
    ranged = [partition.Ranges.write(tmp_path, i, run, cut) for i, run in enumerate(records)]
    sizes = _record_pwrite_sizes(monkeypatch)
    out = tmp_path / "out.jsonl"
    written = replay._write_ranges(ranged, str(out), 1)

    every = sorted(record for run in records for record in run)
    assert out.read_bytes() == b"".join(record_line(r) + b"\n" for r in every)
    assert written == len(every)
    assert sizes and all(0 < n <= 4096 for n in sizes)
