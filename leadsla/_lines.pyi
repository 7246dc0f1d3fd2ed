"""The replay's output encoder in C (``_lines.c``); ``leadsla.codec.outputs`` configures it."""

from collections.abc import Callable
from typing import Any

def configure(
    shapes: list[tuple[type, int, tuple[tuple[bytes, int, int], ...], bool]],
    type_parts_cache: dict[str, tuple[bytes, bytes, bytes]],
    type_parts: Callable[[str], tuple[bytes, bytes, bytes]],
    dumps: Callable[[Any], bytes],
    utc_text: Callable[[int], str],
    sha256: Callable[[bytes], Any],
) -> None: ...
def encode_lead(
    lead_prefix: bytes,
    lead_json: bytes,
    lead_key: bytes,
    outputs: list[Any],
    into: list[bytes],
    counts: dict[str, int],
) -> bool: ...
def utc(instant: int) -> str: ...
def hash_backend(name: str | None = None, /) -> str: ...
def lines_size(records: list[bytes], /) -> int: ...
def join_lines(records: list[bytes], /) -> bytes: ...
def sort_records(records: list[bytes], /) -> bool: ...
def new_record(cls: type, items: tuple[object, ...], /) -> Any: ...
