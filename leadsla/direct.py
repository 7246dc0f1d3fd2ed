"""Large output files written past the page cache (``O_DIRECT``) where the file system allows it.

A replay's output is several times the size of its input (7.5 times on ``unanswered``: 269 MB
for 200,000 events). Written through the page cache, each of its pages is a page the kernel has
to find, and on a virtual machine whose free memory goes back to its host that is the dearest
part of the write: 0.46-0.75 s for 269 MB here, against 0.15-0.21 s written with ``O_DIRECT``
from one buffer used again and again (``bench/bench_replay.py``'s machine). It also leaves the
page cache to the programs that read.

:class:`BlockWriter` writes a run of bytes at a known place in a file: the whole blocks go
through a descriptor of their own opened with ``O_DIRECT`` (from one aligned buffer); the
bytes before the first block boundary and after the last one go through the ordinary descriptor
(several writers may each write a part of one file: their edges share blocks). Where the file
system refuses ``O_DIRECT`` (or ``/proc`` is missing), everything goes through the ordinary
descriptor, and the bytes written are the same.
"""

from __future__ import annotations

import errno
import mmap
import os
import stat
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

ALIGN = 4096
"""The alignment of a direct write's offset, size and memory (a page: every block device's
logical block divides it)."""
BUFFER = 8 << 20
"""Bytes gathered before a direct write."""


POOL = 2
"""Buffers a process keeps for its next readers and writers: a buffer used again costs nothing,
a new one costs its pages once more."""

_pool: list[mmap.mmap] = []


def _take(size: int) -> mmap.mmap:
    """A buffer of at least ``size`` bytes (page-aligned: a mapping), from the pool if one fits."""
    for i, buffer in enumerate(_pool):
        if len(buffer) >= size:
            return _pool.pop(i)
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)  # not shared with a forked process


def _give(buffer: mmap.mmap) -> None:
    """Back to the pool (a buffer may still be read through a view: it is never closed here)."""
    if len(_pool) < POOL:
        _pool.append(buffer)


# A forked process writes into its own pages: the parent's buffers would be copied on write.
os.register_at_fork(after_in_child=_pool.clear)


def _pwrite_all(fd: int, data: memoryview, offset: int) -> int:
    """Write all of ``data`` at ``offset``; the offset after it."""
    while data:
        done = os.pwrite(fd, data, offset)
        offset += done
        data = data[done:]
    return offset


def _open_direct(fd: int) -> int:
    """A second descriptor of the regular file open as ``fd``, with ``O_DIRECT`` (-1: none)."""
    direct = getattr(os, "O_DIRECT", 0)
    if not direct:  # pragma: no cover - not Linux
        return -1
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return -1
        return os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | direct | os.O_CLOEXEC)
    except OSError:  # no /proc, or a file system without direct I/O (EINVAL)
        return -1


class BlockWriter:
    """Writes bytes in order into the file open as ``fd``, from offset ``start`` on.

    Use it as a context manager: the last bytes are written when it closes (:meth:`close`),
    which returns the offset after the last byte. ``fd`` stays open (it belongs to the caller).

    A direct write waits for the disk; a full buffer is written by a thread of the writer's own
    while the caller fills the other one (``os.pwrite`` releases the GIL), so the disk's time
    and the caller's overlap.
    """

    __slots__ = (
        "_buffer",
        "_direct",
        "_fd",
        "_fill",
        "_head",
        "_other",
        "_pending",
        "_position",
        "_thread",
    )

    def __init__(self, fd: int, start: int) -> None:
        self._fd = fd
        self._direct = _open_direct(fd)
        self._buffer = _take(BUFFER) if self._direct >= 0 else None
        self._other: mmap.mmap | None = None
        """The buffer the thread writes (or wrote: free once :meth:`_wait` returns)."""
        self._thread: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None
        self._position = start
        """The file offset of the buffer's first byte (or of the next byte, with no buffer)."""
        self._fill = 0
        self._head = -start % ALIGN
        """Bytes still to write before the first block boundary (through ``fd``)."""

    @property
    def direct(self) -> bool:
        """Whether the whole blocks are still written past the page cache."""
        return self._direct >= 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        if self._buffer is None:
            self._position = _pwrite_all(self._fd, view, self._position)
            return
        if self._head:
            take = min(self._head, len(view))
            self._position = _pwrite_all(self._fd, view[:take], self._position)
            self._head -= take
            view = view[take:]
        while view:
            take = min(BUFFER - self._fill, len(view))
            self._buffer[self._fill : self._fill + take] = view[:take]
            self._fill += take
            view = view[take:]
            if self._fill == BUFFER:
                self._hand_over()

    def _hand_over(self) -> None:
        """The full buffer to the thread; the other one (free again) to fill."""
        self._wait()
        full = self._buffer
        assert full is not None
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="lead-sla-write")
        self._pending = self._thread.submit(self._write_blocks, full, BUFFER, self._position)
        self._position += BUFFER
        self._buffer = self._other if self._other is not None else _take(BUFFER)
        self._other = full
        self._fill = 0

    def _wait(self) -> None:
        """Wait for the thread's write (and raise its error)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _write_blocks(self, buffer: mmap.mmap, size: int, offset: int) -> None:
        """Write ``buffer``'s first ``size`` bytes (whole blocks) at ``offset``."""
        with memoryview(buffer) as view, view[:size] as data:
            while data and self._direct >= 0:
                try:
                    done = os.pwrite(self._direct, data, offset)
                except OSError as exc:
                    if exc.errno != errno.EINVAL:
                        raise
                    done = 0  # an alignment this file system refuses: the rest plainly
                offset += done
                data = data[done:]
                if done % ALIGN or not done:  # refused, or short off a boundary
                    self._stop_direct()
            _pwrite_all(self._fd, data, offset)

    def _stop_direct(self) -> None:
        if self._direct >= 0:
            os.close(self._direct)
            self._direct = -1

    def close(self) -> int:
        """Write what is left; the offset after the last byte written."""
        try:
            self._wait()
            buffer = self._buffer
            if buffer is not None:
                whole = self._fill - self._fill % ALIGN
                if whole:
                    self._write_blocks(buffer, whole, self._position)
                    self._position += whole
                if self._fill > whole:
                    with memoryview(buffer) as view, view[whole : self._fill] as tail:
                        self._position = _pwrite_all(self._fd, tail, self._position)
                self._fill = 0
        finally:
            self._release()
        return self._position

    def _release(self) -> None:
        """Stop the thread (after its write), and give the buffers back."""
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        self._pending = None
        for buffer in (self._buffer, self._other):
            if buffer is not None:
                _give(buffer)
        self._buffer = self._other = None
        self._stop_direct()

    def __enter__(self) -> BlockWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        else:  # the output is abandoned: its thread stops, its buffers go back
            self._release()
