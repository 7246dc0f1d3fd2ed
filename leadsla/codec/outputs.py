"""Encoding outputs: the engine's typed output records -> the wire, and their ids.

The engine's records (``leadsla.domain.outputs``) carry instants and no wire concerns; here they
become the JSON envelope (``event_id``, ``type``, ``lead_id``, ``occurred_at``, ``data``) with
UTC text, sorted ``data`` keys, the live worker's ``suppressed`` flag on alerts and tasks, and
``display_name`` only when the policy shares contact details.

Output ``event_id``s are content-derived (SPEC.md rule 15): the same transition always gets the
same id, in the live worker and in replay, and ``suppressed`` does not change it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from hashlib import sha256
from typing import Any, Final

import orjson

from leadsla.domain.engine import use_record_builder
from leadsla.domain.instant import SECOND, Instant, format_utc, parse_rfc3339
from leadsla.domain.outputs import (
    ALERT_RECORDS,
    TIME_FIELDS,
    Breach,
    Escalation,
    Exclusion,
    Fact,
    Gap,
    Output,
    OutputData,
    PreBreachWarning,
    Response,
    Retraction,
    Review,
    Stale,
    TaskClosed,
    Timer,
)
from leadsla.domain.vocabulary import (
    BREACHED,
    ESCALATION,
    EXCLUDED,
    GAP,
    MEASURED,
    RESPONSE,
    RETRACTED,
    REVIEW,
    STALE,
    TASK_CLOSED,
    TIMER_STARTED,
    TIMER_UPDATED,
    WARNING,
)

from .common import InvalidEvent, json_kind

_SORTED: Final = orjson.OPT_SORT_KEYS
_SUPPRESSED: Final = "suppressed"
_SUPPRESSED_MEMBER: Final = {True: b',"suppressed":true', False: b',"suppressed":false'}
_SUPPRESSED_LAST: Final = {True: b',"suppressed":true}', False: b',"suppressed":false}'}
_UTC_TEXT_LIMIT: Final = 1 << 16


class _Shape:
    """How one record class is written to the wire (a plain class: compiled, its attributes
    are read as struct fields on the hot path)."""

    def __init__(self, cls: type[OutputData]) -> None:
        fields: tuple[str, ...] = cls._fields
        contact = cls in ALERT_RECORDS
        if contact:
            assert fields[-2:] == ("display_name", "contact_details"), cls
            fields = fields[:-2]
        alert = contact or cls is Retraction
        after = sorted(n for n in (*fields, "display_name") if n > _SUPPRESSED) if alert else []
        assert len(after) <= 1, cls  # _data_json writes at most one key after suppressed
        self.names: tuple[str, ...] = fields
        """The wire keys in record order (``zip(names, record)`` stops before an alert's
        contact fields: ``display_name`` is written only when ``contact_details``)."""
        self.times: tuple[str, ...] = tuple(name for name in fields if name in TIME_FIELDS)
        """The keys holding instants (written as UTC text)."""
        self.time_at: tuple[int, ...] = tuple(
            i for i, name in enumerate(fields) if name in TIME_FIELDS
        )
        """Their positions in the record."""
        self.alert: bool = alert
        """Carries ``suppressed`` (every alert and task, and their retraction)."""
        self.contact: bool = contact
        """Ends with ``display_name``, ``contact_details``."""
        self.tail_key: bytes = b',"%s":' % after[0].encode() if after else b""
        """The one key that sorts after ``suppressed`` (a task's ``task_id``), as ``,"key":``
        (empty when none does) ..."""
        self.tail_name: str = after[0] if after else ""
        """... and as the key."""
        self.plain: dict[str, Any] = dict.fromkeys(sorted(fields))
        """A scratch ``data`` object with the keys in sorted order (see :func:`_data_json`)."""
        self.named: dict[str, Any] = dict.fromkeys(sorted((*fields, "display_name")))
        """The same with ``display_name`` (for an alert whose policy shares contact details)."""


_SHAPES: Final[dict[type, _Shape]] = {
    cls: _Shape(cls) for cls in (*ALERT_RECORDS, Retraction, Timer, Response, Fact)
}
_TEXTS: Final[dict[Instant, str]] = {}
"""Recent instants' UTC text: the outputs of a lead share their instants (its creation, its
deadline, one transition's outputs), those of different leads hardly ever, so it is kept small
(a few hundred entries stay in the CPU's cache; a large dict of scattered ints does not)."""
_INSTANTS: Final[dict[Instant, tuple[bytes, bytes, bytes]]] = {}
"""Recent ``occurred_at`` instants' (event id part, UTC text as bytes, sort key part)."""
_RECENT: Final = 512
_DATES: Final[dict[int, str]] = {}
"""Day (since the epoch) -> ``YYYY-MM-DDT``."""
_TWO_DIGITS: Final = tuple(f"{n:02d}" for n in range(60))
_SORT_BIAS: Final = 1 << 63
"""Added to an instant for its sort key part: unsigned, big-endian bytes sort like the ints."""


def utc_text(instant: Instant) -> str:
    """:func:`~leadsla.domain.instant.format_utc`'s text (the same divisions), with each day's
    date remembered and the time of day from a table."""
    # // and %, not divmod: compiled, they stay machine integer operations
    whole = instant // 1_000_000
    micro = instant % 1_000_000
    day = whole // 86_400
    second = whole % 86_400
    date = _DATES.get(day)
    if date is None:
        if len(_DATES) >= _UTC_TEXT_LIMIT:
            _DATES.clear()
        date = _DATES[day] = format_utc(day * 86_400 * SECOND)[:11]
    hours = second // 3600
    minutes = second % 3600 // 60
    second = second % 60
    digits = _TWO_DIGITS
    if micro:
        return (
            date
            + digits[hours]
            + ":"
            + digits[minutes]
            + ":"
            + digits[second]
            + "."
            + str(micro + 1_000_000)[1:]
            + "Z"
        )
    return date + digits[hours] + ":" + digits[minutes] + ":" + digits[second] + "Z"


def _text(instant: Any) -> str:
    # ``Any``: the int object itself is the key (compiled, an ``int`` argument would be
    # unboxed here and boxed again for the dict)
    if len(_TEXTS) >= _RECENT:
        _TEXTS.clear()
    text = _TEXTS[instant] = utc_text(instant)
    return text


def _instant(instant: Any) -> tuple[bytes, bytes, bytes]:
    # An output's occurred_at is often an instant its lead's data already holds (its creation,
    # its deadline): the text is made once for both caches.
    text = _TEXTS.get(instant)
    if text is None:
        text = _text(instant)
    if len(_INSTANTS) >= _RECENT:
        _INSTANTS.clear()
    parts = _INSTANTS[instant] = (
        b"%d\x00" % instant,
        text.encode(),
        instant_sort_key(instant),
    )
    return parts


def _wire_dict(data: OutputData, shape: _Shape) -> dict[str, Any]:
    """``data`` as the wire's ``data`` object, without ``suppressed``, keys in record order."""
    values: tuple[Any, ...] = data  # see _data_json
    wire: dict[str, Any] = dict(zip(shape.names, values, strict=False))
    for name in shape.times:
        value = wire[name]
        if value is not None:
            text = _TEXTS.get(value)
            wire[name] = text if text is not None else _text(value)
    if shape.contact and values[-1] is True:  # contact_details: write the name
        wire["display_name"] = values[-2]
    return wire


def wire_data(data: OutputData, suppressed: bool = False) -> dict[str, Any]:
    """The wire ``data`` object of a record (``suppressed`` only for alerts and tasks), keys in
    record order: what the live worker stores and what :func:`encode_output` writes."""
    shape = _SHAPES[type(data)]
    wire = _wire_dict(data, shape)
    if shape.alert:
        wire[_SUPPRESSED] = suppressed
    return wire


def data_from_wire(type_: str, wire: Mapping[str, Any]) -> OutputData:
    """The record of a wire ``data`` object (the inverse of :func:`wire_data`).

    For what this codec wrote (the live worker's stored state); a field the record needs that
    the object lacks raises ``KeyError``, unknown keys and ``suppressed`` are ignored.
    """
    cls = _RECORD_OF_TYPE[type_]
    shape = _SHAPES[cls]
    names, times = shape.names, shape.times
    values: list[Any] = []
    for name in names:
        value = wire[name]
        if name in times and value is not None:
            value = parse_rfc3339(value)
        values.append(value)
    if cls in ALERT_RECORDS:
        shared = "display_name" in wire
        values.extend((wire["display_name"] if shared else None, shared))
    return cls(*values)


def fact_from_wire(wire: Mapping[str, Any]) -> Fact:
    """:func:`data_from_wire` of an ``sla.measured`` ``data`` object."""
    fact = data_from_wire(MEASURED, wire)
    assert isinstance(fact, Fact)
    return fact


_RECORD_OF_TYPE: Final[dict[str, type[OutputData]]] = {
    TIMER_STARTED: Timer,
    TIMER_UPDATED: Timer,
    WARNING: PreBreachWarning,
    BREACHED: Breach,
    ESCALATION: Escalation,
    REVIEW: Review,
    TASK_CLOSED: TaskClosed,
    RESPONSE: Response,
    STALE: Stale,
    GAP: Gap,
    EXCLUDED: Exclusion,
    RETRACTED: Retraction,
    MEASURED: Fact,
}


def _data_json(data: OutputData, suppressed: bool) -> tuple[bytes, bytes]:
    """The wire ``data`` as sorted-key JSON, and the same without ``suppressed`` (the part the
    ``event_id`` hashes).

    The replay's hot path. The values are written into the shape's scratch dict, whose keys are
    already in sorted order (updating a key keeps its place), so orjson writes them sorted
    without sorting and no dict is built per output; it is serialised at once and never leaves
    this function (so encoding is for one thread at a time, as in the worker and in replay).
    An alert's ``suppressed`` member goes in its sorted place: last, or before the one key that
    sorts after it (a task's ``task_id``).
    """
    shape = _SHAPES[type(data)]
    # The record as a tuple of Any: ``data[i]`` would have the union of every record's field
    # types, inferred by mypy and checked for each value by the compiled module. A union of
    # bool, int and float can be inferred differently from one build to the next
    # (python/mypy#1850: live._digest_text's was, in CI's build of stop 16); with a plain tuple
    # nothing depends on it (tests/unit/test_native_types.py).
    values: tuple[Any, ...] = data
    named = shape.contact and values[-1] is True
    wire = shape.named if named else shape.plain
    names = shape.names
    for i in range(len(names)):
        wire[names[i]] = values[i]
    for i in shape.time_at:
        value = values[i]
        if value is not None:
            text = _TEXTS.get(value)
            wire[names[i]] = text if text is not None else _text(value)
    if named:
        wire["display_name"] = values[-2]
    hashed: bytes = orjson.dumps(wire)
    if not shape.alert:
        return hashed, hashed
    if not shape.tail_key:
        return hashed[:-1] + _SUPPRESSED_LAST[suppressed], hashed
    after = shape.tail_key + orjson.dumps(wire[shape.tail_name]) + b"}"
    return hashed[: -len(after)] + _SUPPRESSED_MEMBER[suppressed] + after, hashed


def _event_id(lead_id: str, type_: str, occurred_at: Instant, hashed: bytes) -> str:
    # Length prefixes keep the fields apart whatever characters a lead_id contains.
    prefix = f"{len(lead_id)}:{lead_id}{len(type_)}:{type_}{occurred_at}\x00".encode()
    # SHA-256 truncated to 128 bits: as collision-free for ids as blake2b-128, and about twice
    # as fast here (the CPU's SHA instructions); it runs once per output on the hot path.
    return sha256(prefix + hashed).hexdigest()[:32]


def output_event_id(
    lead_id: str, type_: str, occurred_at: Instant, data: Mapping[str, Any] | OutputData
) -> str:
    """The deterministic ``event_id`` of an output (SPEC.md rule 15).

    The first 16 bytes of SHA-256 (as hex) of ``f"{len(lead_id)}:{lead_id}{len(type_)}:{type_}{occurred_at}\\0"``
    (UTF-8; occurred_at in microseconds) followed by ``data`` as sorted-key orjson without
    ``suppressed``: the same transition always gets the same id, a changed transition a new
    one, and suppressing an alert does not change its id.

    ``data`` is a record of the engine, or the wire ``data`` object of a decoded output.
    """
    if isinstance(data, Mapping):
        hashed = orjson.dumps({k: v for k, v in data.items() if k != _SUPPRESSED}, option=_SORTED)
    else:
        hashed = _data_json(data, False)[1]
    return _event_id(lead_id, type_, occurred_at, hashed)


def event_id_of(lead_id: str, output: Output) -> str:
    """:func:`output_event_id` of an engine output (the live worker's ``event_id_of``)."""
    return _event_id(lead_id, output.type, output.occurred_at, _data_json(output.data, False)[1])


def encode_output(lead_id: str, output: Output) -> bytes:
    """One output event as JSON bytes: ``{"event_id", "type", "lead_id", "occurred_at", "data"}``.

    ``data`` is written with sorted keys and instants as ``format_utc`` text.
    """
    return encode_output_record(lead_id, output)[1]


def encode_output_record(lead_id: str, output: Output) -> tuple[str, bytes]:
    """:func:`encode_output` and the ``event_id`` it carries (written without the replay's
    inlined path: ``test_output_codec.py`` checks that both give the same bytes)."""
    type_, occurred_at, data, suppressed = output
    full, hashed = _data_json(data, suppressed)
    event_id = _event_id(lead_id, type_, occurred_at, hashed)
    line = b'{"event_id":"%s","type":%s,"lead_id":%s,"occurred_at":"%s","data":%s}' % (
        event_id.encode(),
        orjson.dumps(type_),
        orjson.dumps(lead_id),
        utc_text(occurred_at).encode(),
        full,
    )
    return event_id, line


OutputRecord = tuple[Instant, str, str, str, bytes]
"""(occurred_at, lead_id, type, event_id, line): sorting these gives SPEC section 7's order."""

LineRecord = bytes
"""An output line after its sort key, in one object: sorting these gives the same order as
sorting :data:`OutputRecord`s (one bytes object per output, compared by one ``memcmp``: a
``(key, line)`` tuple took two more objects and sorted a third slower).

The key is the ``occurred_at`` (8 bytes, big-endian, biased to unsigned), then the ``lead_id``
and the ``type``, each as UTF-8 with its NUL bytes written ``00 01`` and ended by ``00 00``:
bytes that compare like the (instant, lead_id, type) tuple (UTF-8 bytes compare like the code
points they encode, and an end mark is below every byte that can follow). No key is the prefix
of another, so records whose keys differ are ordered by their keys alone; keys that tie compare
the lines, which start with the ``event_id``. :func:`line_start` finds where the line starts
(after the first ``00 00`` past the instant, and the next).
"""


def line_start(record: LineRecord) -> int:
    """Where a :data:`LineRecord`'s line starts (the end of its key)."""
    return record.index(b"\x00\x00", record.index(b"\x00\x00", 8) + 2) + 2


def record_line(record: LineRecord) -> bytes:
    """A :data:`LineRecord`'s line."""
    return record[line_start(record) :]


def join_lines(records: list[LineRecord]) -> bytes:
    """The lines of ``records``, each followed by a newline (what the output file gets)."""
    joined: bytes = _NATIVE.join_lines(records) if _NATIVE is not None else _join_lines(records)
    return joined


def _join_lines(records: list[LineRecord]) -> bytes:
    lines = [record[line_start(record) :] for record in records]
    lines.append(b"")
    return b"\n".join(lines)


def lines_size(records: list[LineRecord]) -> int:
    """The bytes :func:`join_lines` gives for ``records``."""
    size: int = _NATIVE.lines_size(records) if _NATIVE is not None else _lines_size(records)
    return size


def sort_records(records: list[LineRecord]) -> None:
    """Sort ``records`` in place, as ``list.sort()`` does: by the C encoder's radix sort when it
    is built (the records of one instant by their bytes), else by ``list.sort()``."""
    if _NATIVE is None or not _NATIVE.sort_records(records):
        records.sort()


def pack_records(records: list[LineRecord], start: int, stop: int) -> bytes:
    """``records[start:stop]`` as the bytes of a run (what :func:`merge_runs` reads): each
    record after its size, 4 bytes little-endian."""
    if _NATIVE is not None:
        packed: bytes = _NATIVE.pack_records(records, start, stop)
        return packed
    return b"".join(len(record).to_bytes(4, "little") + record for record in records[start:stop])


def merge_runs(runs: list[list[Any]], out: bytearray) -> tuple[int, int, int]:
    """Merge sorted runs into ``out`` as output lines, without a Python object per record (in
    C when it is built).

    ``runs``: ``[window, at, end]`` lists, each ``window`` holding packed records
    (:func:`pack_records`) from ``at`` up to ``end``. Records are taken in ``list.sort``'s order
    and their lines written into ``out``, each with a newline, while it has room; each run's
    ``at`` moves past what was taken. Returns (bytes written, records written, run): ``run`` is
    the index of a run whose window holds no whole record (to be read further, or ended), or
    -1 when ``out`` is full.
    """
    if _NATIVE is not None:
        merged: tuple[int, int, int] = _NATIVE.merge_runs(runs, out)
        return merged
    return _merge_runs(runs, out)


def _run_record(run: list[Any]) -> bytes | None:
    """A run's next record, if its window holds it whole."""
    window, at, end = run
    if end - at < 4:
        return None
    size = int.from_bytes(window[at : at + 4], "little")
    return bytes(window[at + 4 : at + 4 + size]) if end - at - 4 >= size else None


def _merge_runs(runs: list[list[Any]], out: bytearray) -> tuple[int, int, int]:
    heads: list[tuple[bytes, int]] = []
    for i, run in enumerate(runs):
        record = _run_record(run)
        if record is None:
            return 0, 0, i
        heads.append((record, i))
    heapq.heapify(heads)
    written = count = 0
    while heads:
        record, i = heads[0]
        line = record[line_start(record) :]
        if len(out) - written < len(line) + 1:
            break
        out[written : written + len(line)] = line
        out[written + len(line)] = 10  # a newline
        written += len(line) + 1
        count += 1
        runs[i][1] += 4 + len(record)
        following = _run_record(runs[i])
        if following is None:
            return written, count, i
        heapq.heapreplace(heads, (following, i))
    return written, count, -1


def _lines_size(records: list[LineRecord]) -> int:
    total = 0
    for record in records:
        total += len(record) - line_start(record) + 1
    return total


def instant_sort_key(instant: Instant) -> bytes:
    """The ``occurred_at`` part of a :data:`LineRecord`'s key (its first 8 bytes)."""
    return (instant + _SORT_BIAS).to_bytes(8, "big")


def lead_sort_key(lead_id: str) -> bytes:
    """The ``lead_id`` part of a :data:`LineRecord`'s key (and, of the type, the ``type``
    part)."""
    return lead_id.encode().replace(b"\x00", b"\x00\x01") + b"\x00\x00"


def encode_lead_records(lead_id: str, outputs: Iterable[Output]) -> list[OutputRecord]:
    """Every output of one lead as :data:`OutputRecord`s (see :func:`encode_lead_lines`)."""
    outputs = list(outputs)
    records: list[LineRecord] = []
    encode_lead_lines(lead_id, outputs, records, {})
    lines = [record_line(record) for record in records]
    return [
        (output.occurred_at, lead_id, output.type, line[13:45].decode(), line)
        for output, line in zip(outputs, lines, strict=True)
    ]


def encode_lead_lines(
    lead_id: str, outputs: Iterable[Output], into: list[LineRecord], counts: dict[str, int]
) -> None:
    """Every output of one lead as a :data:`LineRecord` appended to ``into``; ``counts`` adds
    the outputs of each type.

    The hot path of replay: the lead's JSON, its part of the id prefix and of the sort key are
    made once per lead, the type's once per process. With the compiled modules, the C encoder
    (``leadsla/_lines.c``) writes the lines; otherwise, or for an output it does not know, the
    Python loop below does, byte for byte the same (``test_native_lines.py``). The line is what
    :func:`encode_output_record` writes (``test_output_codec.py`` checks it).
    """
    lead_json: bytes = orjson.dumps(lead_id)
    lead_prefix = f"{len(lead_id)}:{lead_id}".encode()
    lead_key = lead_sort_key(lead_id)
    native = _NATIVE_ENCODE
    if native is not None:
        if not isinstance(outputs, list):
            outputs = list(outputs)
        if native(lead_prefix, lead_json, lead_key, outputs, into, counts):
            return
    _encode_lead_lines(lead_prefix, lead_json, lead_key, outputs, into, counts)


def _encode_lead_lines(
    lead_prefix: bytes,
    lead_json: bytes,
    lead_key: bytes,
    outputs: Iterable[Output],
    into: list[LineRecord],
    counts: dict[str, int],
) -> None:
    """:func:`encode_lead_lines` in Python: the reference of the C encoder. The instants' text,
    id part and sort key part are remembered."""
    dumps = orjson.dumps
    new_hash = sha256
    occurred_at: Any  # kept as the int object it is (compiled: not unboxed and boxed again)
    value: Any
    texts = _TEXTS
    instants = _INSTANTS
    types = _TYPE_PARTS
    shapes = _SHAPES
    for type_, occurred_at, data, suppressed in outputs:
        # _data_json, inline (one call less per output; test_output_codec.py checks both agree)
        shape = shapes[type(data)]
        values: tuple[Any, ...] = data  # see _data_json
        named = shape.contact and values[-1] is True
        wire = shape.named if named else shape.plain
        names = shape.names
        # by position, not update(zip(...)): compiled, a third less time for the whole encoding
        for i in range(len(names)):
            wire[names[i]] = values[i]
        for i in shape.time_at:
            value = values[i]
            if value is not None:
                text = texts.get(value)
                wire[names[i]] = text if text is not None else _text(value)
        if named:
            wire["display_name"] = values[-2]
        hashed: bytes = dumps(wire)
        full = hashed
        if shape.alert:
            if not shape.tail_key:
                full = hashed[:-1] + _SUPPRESSED_LAST[suppressed]
            else:
                after = shape.tail_key + dumps(wire[shape.tail_name]) + b"}"
                full = hashed[: -len(after)] + _SUPPRESSED_MEMBER[suppressed] + after
        type_parts = types.get(type_)
        if type_parts is None:
            type_parts = _type_parts(type_)
        instant_parts = instants.get(occurred_at)
        if instant_parts is None:
            instant_parts = _instant(occurred_at)
        digest = new_hash(lead_prefix + type_parts[0] + instant_parts[0])
        digest.update(hashed)  # not concatenated: no copy of the data
        event_id = digest.hexdigest()
        into.append(
            b'%s%s%s{"event_id":"%s","type":%s,"lead_id":%s,"occurred_at":"%s","data":%s}'
            % (
                instant_parts[2],
                lead_key,
                type_parts[2],
                event_id[:32].encode(),
                type_parts[1],
                lead_json,
                instant_parts[1],
                full,
            )
        )
        counts[type_] = counts.get(type_, 0) + 1


_TYPE_PARTS: Final[dict[str, tuple[bytes, bytes, bytes]]] = {}
"""Output type -> (its part of the id prefix, its JSON, its part of the sort key)."""


def _type_parts(type_: str) -> tuple[bytes, bytes, bytes]:
    """Fills :data:`_TYPE_PARTS` for ``type_`` (the Python loop and the C encoder call it)."""
    parts = _TYPE_PARTS[type_] = (
        f"{len(type_)}:{type_}".encode(),
        orjson.dumps(type_),
        lead_sort_key(type_),
    )
    return parts


NativeEntry = tuple[bytes, int, int]
"""A wire key of a record shape for the C encoder: (``"key":``, field position, kind)."""
_VALUE, _TIME, _DISPLAY_NAME, _SUPPRESSED_KIND = 0, 1, 2, 3


def native_shapes() -> list[tuple[type, int, tuple[NativeEntry, ...], bool]]:
    """Every record shape as the C encoder takes it: (class, arity, every key the wire may
    carry in sorted order, whether it ends with ``display_name`` and ``contact_details``),
    from the same :class:`_Shape`s the Python loop writes with."""
    found: list[tuple[type, int, tuple[NativeEntry, ...], bool]] = []
    for cls, shape in _SHAPES.items():
        fields: tuple[str, ...] = cls._fields  # type: ignore[attr-defined]
        keys = list(shape.named if shape.contact else shape.plain)
        if shape.alert:
            keys = sorted([*keys, _SUPPRESSED])
        entries: list[NativeEntry] = []
        for key in keys:
            if key == _SUPPRESSED:
                entry = (_SUPPRESSED_KIND, 0)
            elif key == "display_name" and shape.contact:
                entry = (_DISPLAY_NAME, len(fields) - 2)
            else:
                entry = (_TIME if key in TIME_FIELDS else _VALUE, fields.index(key))
            entries.append((orjson.dumps(key) + b":", entry[1], entry[0]))
        found.append((cls, len(fields), tuple(entries), shape.contact))
    return found


def _native_lines() -> Any:
    """The C encoder (``leadsla/_lines.c``), configured, when the compiled modules run (else
    None: ``LEADSLA_PURE=1``, or no build)."""
    import leadsla

    if "_lines.c" not in leadsla.native_extensions():  # only when NATIVE is "compiled"
        return None
    from leadsla import _lines

    _lines.configure(native_shapes(), _TYPE_PARTS, _type_parts, orjson.dumps, utc_text, sha256)
    use_record_builder(_lines.new_record)
    return _lines


_NATIVE: Final = _native_lines()
_NATIVE_ENCODE: Final[Any] = _NATIVE.encode_lead if _NATIVE is not None else None
"""Looked up once: it is called for every lead."""


def decode_output(value: bytes | str) -> dict[str, Any]:
    """An output event's JSON as a dict (not validated: outputs are ours)."""
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not valid JSON: {exc}") from None
    if type(obj) is not dict:
        raise InvalidEvent(f"not a JSON object: the event is {json_kind(obj)}")
    return obj
