"""The replay's input decoder in C (``_events.c``); ``leadsla.codec.inputs`` configures it."""

from collections.abc import Callable
from typing import Any

def configure(
    types: list[tuple[str, type, tuple[tuple[str, int, tuple[str, ...], str | None], ...], bool]],
    parse_rfc3339: Callable[[str], int],
    schema_version: int,
    max_id_length: int,
    /,
) -> None: ...
def decode(line: bytes | str, /) -> Any: ...
def route(line: bytes | str, /) -> tuple[str, int] | None: ...
