"""What the commands share for their arguments: argument types (argparse refuses a bad value
with one line, exit 2) and ``-`` for standard input where a file is read."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be 1 or more")
    return value


@contextlib.contextmanager
def readable(path: str) -> Iterator[str]:
    """``path`` as it is, or for ``-`` standard input spooled into a temporary file (the
    commands read their input more than once, or fingerprint it)."""
    if path != "-":
        yield path
        return
    with tempfile.NamedTemporaryFile(prefix="lead-sla-stdin-", suffix=".jsonl") as spool:
        shutil.copyfileobj(sys.stdin.buffer, spool)
        spool.flush()
        yield spool.name
