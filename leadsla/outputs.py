"""Where a command writes: standard output for ``-``, else a file that appears whole or not at all.

Every command that writes a file goes through :func:`open_output`: the bytes go to a temporary
file beside the target and replace it only when the command succeeded, so a failure half-way
never leaves a half-written output behind, and an output path that is one of the command's
inputs is refused before anything is read or written.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

WRITE_PIECE = 1 << 20
"""The most bytes a large output hands to one ``write``. The kernel caches a buffered write in
pages as large as the write allows: a 2 MiB write at a 2 MiB boundary gets a 2 MiB page (a
huge page; ext4 caches in large pages since Linux 6.x), and on a virtual machine whose free
memory goes back to its host, such pages are dear to find. Writing 256 MiB here took 0.6 s in
writes of 2 or 4 MiB and 0.05 s in writes of 1 MiB or less (2 runs each); a replay of 200,000
events writes 269 MB of output (and, with several jobs, as much again in its range files)."""


def write_pieces(write: Callable[[memoryview], object], data: bytes | memoryview) -> None:
    """``write(data)`` in pieces of at most :data:`WRITE_PIECE` bytes (``write`` writes all it
    is given, as a buffered stream's does)."""
    with memoryview(data) as view:
        for start in range(0, len(view), WRITE_PIECE):
            with view[start : start + WRITE_PIECE] as piece:
                write(piece)


def pwrite_pieces(fd: int, data: bytes | memoryview, offset: int) -> int:
    """Write all of ``data`` at ``offset`` of ``fd``, at most :data:`WRITE_PIECE` bytes a call;
    the offset after it."""
    with memoryview(data) as view:
        at = 0
        while at < len(view):
            with view[at : at + WRITE_PIECE] as piece:
                done = os.pwrite(fd, piece, offset)
            offset += done
            at += done
    return offset


class OutputError(ValueError):
    """An output path the command cannot use; the message says why (a usage error, exit 2)."""


def check_output(path: str, inputs: Iterable[str] = ()) -> None:
    """Refuse ``path`` when it is one of ``inputs`` or its folder is missing or not writable."""
    if path == "-":
        return
    target = Path(path)
    for name in inputs:
        if name == "-":
            continue
        source = Path(name)
        same = source.exists() and target.exists() and os.path.samefile(source, target)
        if same or source.resolve() == target.resolve():
            raise OutputError(f"the output {path} is also an input: refusing to overwrite it")
    if target.is_dir():
        raise OutputError(f"the output {path} is a folder, not a file")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {path}: the folder {folder} is not writable")


@contextlib.contextmanager
def open_output(path: str, inputs: Iterable[str] = ()) -> Iterator[BinaryIO]:
    """A binary stream for ``path`` (``-``: standard output), committed only on success."""
    check_output(path, inputs)
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)  # as an ordinary open() would have made it
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
