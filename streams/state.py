"""A lead's live state as bytes: what the worker's changelog-backed table stores.

Compact, versioned and never pickle: a changelog outlives the code that wrote it, and pickle
would run whatever a record says. The layout is

``b"LS" + version (1 byte) + wake (8 bytes, signed big-endian; -1 for none) + partition (4
bytes) + orjson body``

The fixed header lets the worker rebuild its deadline index after a recovery or a rebalance by
reading 15 bytes per lead, without decoding the body. The body holds the inputs as
``[type, field, field, ...]`` lists in the domain events' field order (``domain/events.py``), so
loading a lead never re-validates its events; a change of those fields is a new ``FORMAT``
version, and older versions are upgraded on load here.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

import orjson

from leadsla.codec import data_from_wire, fact_from_wire, wire_data
from leadsla.domain.engine import Output
from leadsla.domain.events import (
    TYPE_NAME,
    ActivityLogged,
    BreachResolved,
    InputEvent,
    LeadCreated,
    LeadUpdated,
    OwnerAssigned,
    StatusChanged,
)
from leadsla.domain.live import DEFAULT_CONFIG, HeldRecord, LiveConfig, LiveLead

from .process import OutRecord

MAGIC: Final = b"LS"
FORMAT: Final = 1
_HEADER: Final = struct.Struct(">2sBqi")
HEADER_SIZE: Final = _HEADER.size
_NONE: Final = -1

_CLASSES: Final[dict[str, type[Any]]] = {
    TYPE_NAME[cls]: cls
    for cls in (
        LeadCreated,
        LeadUpdated,
        OwnerAssigned,
        ActivityLogged,
        StatusChanged,
        BreachResolved,
    )
}


class StateError(ValueError):
    """Bytes in the table that are not a lead state this code can read."""


class Stored(NamedTuple):
    """What :func:`load` reads back."""

    state: LiveLead
    epoch: int
    """The consumer group generation it was written under (0: not recorded)."""
    outbox: list[OutRecord]
    """Records of the batch that made this state, stored before they were published (empty once
    the worker knows they were): published again, with the same bytes, when the lead is next
    touched."""


def dumps(
    state: LiveLead,
    partition: int,
    config: LiveConfig = DEFAULT_CONFIG,
    epoch: int = 0,
    outbox: Sequence[OutRecord] = (),
) -> bytes:
    """The table value of ``state``, which lives in ``partition``, written under consumer group
    generation ``epoch``, with the records still to publish (``outbox``; see :class:`Stored`).

    A state with an outbox says "wake now" in its header, so that the deadline index rebuilt
    after a crash brings the lead back at once and its records are published.
    """
    return dumps_pair(state, partition, config, epoch, outbox)[0]


def dumps_pair(
    state: LiveLead,
    partition: int,
    config: LiveConfig = DEFAULT_CONFIG,
    epoch: int = 0,
    outbox: Sequence[OutRecord] = (),
) -> tuple[bytes, bytes]:
    """:func:`dumps` of ``state`` with ``outbox``, and without it, from one encoding."""
    body = orjson.dumps(_body(state, epoch))
    wake = state.wake(config)
    plain = _HEADER.pack(MAGIC, FORMAT, _NONE if wake is None else wake, partition) + body
    if not outbox:
        return plain, plain
    records = orjson.dumps([_record_to_json(r) for r in outbox])
    due_now = _HEADER.pack(MAGIC, FORMAT, 0, partition)
    return due_now + body[:-1] + b',"outbox":' + records + b"}", plain


def _body(state: LiveLead, epoch: int) -> dict[str, Any]:
    body: dict[str, Any] = {"lead": state.lead_id}
    if epoch:
        body["epoch"] = epoch
    if state.events:
        body["events"] = [[TYPE_NAME[type(e)], *e] for e in state.events]
    if state.published:
        body["published"] = sorted(state.published)
    if state.standing:
        body["standing"] = [_output(o) for o in state.standing]
    if state.fact is not None:
        fact = wire_data(state.fact)
        del fact["version"]  # stored once, as "version"
        body["fact"] = fact
        body["version"] = state.version
    if state.dead_lettered:
        body["dead"] = sorted(state.dead_lettered)
    if state.next_due is not None:
        body["next_due"] = state.next_due
    if state.policy_version is not None:
        body["policy"] = state.policy_version
    if state.held_since is not None:
        body["held_since"] = state.held_since
    if state.held_records:
        body["held"] = [
            [h.event_id, h.topic, h.partition, h.offset, base64.b64encode(h.value).decode()]
            for h in state.held_records
        ]
    if state.last_input_at is not None:
        body["last_input"] = state.last_input_at
    if state.retired:
        body["retired"] = True
    if state.legacy:
        body["legacy"] = [_output(o) for o in state.legacy]
        body["legacy_policy"] = state.legacy_policy
    return body


def header(raw: bytes) -> tuple[int | None, int]:
    """``(wake, partition)`` of a stored state, from its header alone."""
    if len(raw) < HEADER_SIZE:
        raise StateError("lead state too short")
    magic, version, wake, partition = _HEADER.unpack_from(raw)
    if magic != MAGIC or version != FORMAT:
        raise StateError(f"not a lead state of format {FORMAT}: {bytes(raw[:3])!r}")
    return (None if wake == _NONE else wake), partition


def loads(raw: bytes) -> LiveLead:
    """The lead state stored as ``raw`` (see :func:`dumps`)."""
    return load(raw).state


def load(raw: bytes) -> Stored:
    """The lead state stored as ``raw``, the group generation it was written under (0: not
    recorded) and its outbox.

    The generation is for the fact versions: a state loaded under a later generation than it
    was stored under steps its version over the generations in between (``app.py``), since a
    worker that lost its partitions may have published a fact after its last state reached the
    new owner. The outbox is what the batch that stored this state was about to publish.
    """
    header(raw)
    try:
        body = orjson.loads(raw[HEADER_SIZE:])
    except orjson.JSONDecodeError as exc:
        raise StateError(f"lead state body is not JSON: {exc}") from None
    events: tuple[InputEvent, ...] = tuple(
        _CLASSES[item[0]](*item[1:]) for item in body.get("events", ())
    )
    version = body.get("version", 0)
    fact = body.get("fact")
    state = LiveLead(
        lead_id=body["lead"],
        events=events,
        published=frozenset(body.get("published", ())),
        standing=tuple(_load_output(item) for item in body.get("standing", ())),
        fact=None if fact is None else fact_from_wire({**fact, "version": version}),
        version=version,
        dead_lettered=frozenset(body.get("dead", ())),
        next_due=body.get("next_due"),
        policy_version=body.get("policy"),
        held_since=body.get("held_since"),
        held_records=tuple(
            HeldRecord(e, t, p, o, base64.b64decode(v)) for e, t, p, o, v in body.get("held", ())
        ),
        last_input_at=body.get("last_input"),
        retired=bool(body.get("retired", False)),
        legacy=tuple(_load_output(item) for item in body.get("legacy", ())),
        legacy_policy=body.get("legacy_policy"),
    )
    outbox = [_record_from_json(item) for item in body.get("outbox", ())]
    return Stored(state, int(body.get("epoch", 0)), outbox)


def _b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


def _unb64(value: str | None) -> bytes | None:
    return None if value is None else base64.b64decode(value)


_TEXT_RECORD: Final = 1
"""The last item of an outbox record whose key, value and header values are stored as UTF-8
text (the usual case: JSON values, ASCII headers); a record with other bytes is stored in the
six-item base64 form. Both forms read back to the same bytes."""


def _record_to_json(record: OutRecord) -> list[Any]:
    try:
        return [
            record.topic,
            record.key.decode(),
            None if record.value is None else record.value.decode(),
            [[name, value.decode()] for name, value in record.headers],
            record.type,
            record.due,
            _TEXT_RECORD,
        ]
    except UnicodeDecodeError:
        return [
            record.topic,
            _b64(record.key),
            _b64(record.value),
            [[name, _b64(value)] for name, value in record.headers],
            record.type,
            record.due,
        ]


def _record_from_json(item: list[Any]) -> OutRecord:
    if len(item) == 7 and item[6] == _TEXT_RECORD:
        topic, key, value, headers, type_, due, _form = item
        return OutRecord(
            topic,
            key.encode(),
            None if value is None else value.encode(),
            [(name, v.encode()) for name, v in headers],
            type_,
            due,
        )
    topic, key, value, headers, type_, due = item
    return OutRecord(
        topic,
        _unb64(key) or b"",
        _unb64(value),
        [(name, _unb64(v) or b"") for name, v in headers],
        type_,
        due,
    )


def _output(output: Output) -> list[Any]:
    """An alert or task as stored: ``[type, occurred_at, wire data]`` (``suppressed`` false)."""
    return [output.type, output.occurred_at, wire_data(output.data, output.suppressed)]


def _load_output(item: list[Any]) -> Output:
    type_, at, data = item
    return Output(type_, at, data_from_wire(type_, data), bool(data.get("suppressed", False)))
