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
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO


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
