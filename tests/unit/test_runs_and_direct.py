"""The parallel merge's runs and the output's direct writes give exactly the bytes asked for.

Given sorted runs of line records packed into files, when they are merged (in C, and by the
pure Python reference) through windows and an output buffer of any size, then the lines come in
the records' sorted order, each once. Given bytes written at any offset of a file in pieces of
any size, when the file system takes direct writes, refuses them at open, or refuses one
mid-way, then the file holds those bytes at that offset, and writers of neighbouring parts of
one file do not spoil each other's edges.
"""

from __future__ import annotations

import errno
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadsla import direct, partition
from leadsla.codec import outputs, pack_records, record_line
from leadsla.codec.outputs import lead_sort_key
from leadsla.direct import ALIGN, BlockWriter

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


def _pieces(data: bytes, rng: random.Random) -> Iterator[bytes]:
    at = 0
    while at < len(data):
        size = rng.choice([1, 7, ALIGN - 1, ALIGN, ALIGN + 1, 3 * ALIGN + 5, 1 << 20])
        yield data[at : at + size]
        at += size


@pytest.mark.parametrize("start", [0, 1, ALIGN - 1, ALIGN, 5 * ALIGN + 123])
@pytest.mark.parametrize("size", [0, 1, ALIGN - 1, ALIGN, 3 * ALIGN + 7, (9 << 20) + 5])
def test_a_block_writer_puts_the_bytes_at_their_offset(
    tmp_path: Path, start: int, size: int
) -> None:
    rng = random.Random(start * 31 + size)
    data = rng.randbytes(size)
    path = tmp_path / "out"
    path.write_bytes(b"\xee" * start)  # what is before the offset stays
    with open(path, "r+b") as f, BlockWriter(f.fileno(), start) as writer:
        for piece in _pieces(data, rng):
            writer.write(piece)
        end = writer.close()

    assert end == start + size
    assert path.read_bytes() == b"\xee" * start + data


def test_block_writers_of_neighbouring_parts_write_one_file(tmp_path: Path) -> None:
    # Given parts of one file whose edges share blocks, when each is written by its own
    # writer at once, then the file is their concatenation.
    rng = random.Random(3)
    parts = [rng.randbytes(rng.randrange(1, 3 * ALIGN)) for _ in range(12)]
    parts.append(rng.randbytes((2 << 20) + 17))
    offsets = [0]
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    path = tmp_path / "out"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            with BlockWriter(fd, offsets[i]) as writer:
                for piece in _pieces(parts[i], random.Random(i)):
                    writer.write(piece)
                assert writer.close() == offsets[i + 1]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in reversed(range(len(parts)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    os.close(fd)

    assert not errors
    assert path.read_bytes() == b"".join(parts)


def test_without_direct_writes_the_bytes_are_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a file system that refuses O_DIRECT at open (tmpfs, some network file systems)
    monkeypatch.setattr(direct, "_open_direct", lambda fd: -1)
    data = random.Random(5).randbytes((3 << 20) + 11)
    path = tmp_path / "out"
    with open(path, "wb") as f, BlockWriter(f.fileno(), 0) as writer:
        assert not writer.direct
        writer.write(data)
    assert path.read_bytes() == data


def test_a_direct_write_refused_mid_way_goes_on_through_the_page_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given direct writes that the file system refuses after the first one (EINVAL)
    data = random.Random(6).randbytes(3 * direct.BUFFER + ALIGN + 3)
    path = tmp_path / "out"
    real_pwrite = os.pwrite
    direct_writes: list[int] = []

    def pwrite(fd: int, buffer: Any, offset: int) -> int:
        if fd == writer._direct:
            direct_writes.append(offset)
            if len(direct_writes) > 1:
                raise OSError(errno.EINVAL, "Invalid argument")
        return real_pwrite(fd, buffer, offset)

    with open(path, "wb") as f:
        writer = BlockWriter(f.fileno(), 5)
        if not writer.direct:
            writer.close()
            pytest.skip(f"{tmp_path} takes no direct writes")
        monkeypatch.setattr(os, "pwrite", pwrite)
        with writer:
            writer.write(data)
            end = writer.close()
        monkeypatch.undo()

    assert not writer.direct  # it stopped trying
    assert len(direct_writes) == 2
    assert end == 5 + len(data)
    assert path.read_bytes()[5:] == data


def test_a_forked_process_does_not_share_the_parent_s_buffers(tmp_path: Path) -> None:
    # The pool's buffers are private mappings, and a forked child starts with an empty pool.
    with open(tmp_path / "out", "wb") as f, BlockWriter(f.fileno(), 0) as writer:
        writer.write(b"x")
        if not writer.direct:
            pytest.skip(f"{tmp_path} takes no direct writes: no buffer")
    assert direct._pool
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os._exit(0 if not direct._pool else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_failed_write_of_the_writing_thread_reaches_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a disk that fills up while the thread writes a full buffer
    real_pwrite = os.pwrite

    def pwrite(fd: int, buffer: Any, offset: int) -> int:
        if offset >= direct.BUFFER:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwrite(fd, buffer, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    # Then the error comes out of a later write or the close, and nothing hangs
    with (
        open(tmp_path / "out", "wb") as f,
        pytest.raises(OSError, match="No space"),
        BlockWriter(f.fileno(), 0) as writer,
    ):
        for _ in range(4):
            writer.write(bytes(direct.BUFFER))
        writer.close()
    assert writer._thread is None  # stopped
