"""The dead-letter record written to ``sla.dlq`` (SPEC.md rule 16)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .common import UtcTimestamp

BASE64_PATTERN = r"^[A-Za-z0-9+/]*={0,2}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class DlqHeader(BaseModel):
    """One Kafka header of the original record (Kafka allows repeated keys and null values)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    key: str
    value_base64: str | None = Field(pattern=BASE64_PATTERN)


class DeadLetter(BaseModel):
    """An input that was refused, with everything needed to read, fix and re-send it.

    Invalid input never stops the worker and is never silently dropped. A record keeps:

    - ``original_base64``: the original Kafka value, byte for byte (it may not be UTF-8 or JSON);
    - ``key_base64`` and ``headers``: the original key and headers, so that ``lead-sla dlq`` can
      re-send a binary-mode CloudEvent (whose ``ce_*`` headers and key carry the envelope)
      exactly as it came, after a fix; ``key_base64`` is null for a record without a key;
    - ``topic``, ``partition``, ``offset``: where it was read;
    - ``reason``: why it was refused, for a person (for invalid events each bad field path and
      its message, e.g. ``data.owner_id: Field required``; or an engine reason such as a
      ``lead.breach_resolved`` for a lead that never breached, or a held event whose
      ``lead.created`` never came);
    - ``received_at``: the wall-clock time the worker dead-lettered it (UTC, ``Z``);
    - ``event_id`` and ``lead_id``: copied from the original when they could be read (from the
      envelope, a CloudEvent's ``ce_id`` header or the Kafka key), else null;
    - ``original_length`` and ``original_sha256``: the length in bytes and the SHA-256 (hex) of
      the whole original value, even when ``original_base64`` holds only its beginning;
    - ``original_truncated``: true when the letter does not hold the whole original record, so
      that it cannot be re-sent as it came: the value was cut to fit the producer's limit
      (``original_base64`` is then its first bytes), or, rarely, an oversized key or header was
      cut or left out. ``lead-sla dlq resend`` refuses such a letter.

    The three ``original_*`` fields are optional: letters written before they existed lack them
    (their original is whole). A reason is at most 2,000 characters (a longer one is cut, and
    says so); a letter's JSON is at most 900,000 bytes by default, well under Kafka's 1 MB limit.

    The Kafka key of a dead-letter record is the original key (so letters of one lead stay
    together); its value is this object as JSON.
    """

    model_config = ConfigDict(strict=True, extra="forbid")

    original_base64: str = Field(pattern=BASE64_PATTERN)
    key_base64: str | None = Field(default=None, pattern=BASE64_PATTERN)
    headers: list[DlqHeader] = Field(default_factory=list)
    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    reason: str
    received_at: UtcTimestamp
    event_id: str | None = None
    lead_id: str | None = None
    original_length: int | None = Field(default=None, ge=0)
    original_sha256: str | None = Field(default=None, pattern=SHA256_PATTERN)
    original_truncated: bool = False
