"""``lead-sla dlq``: list dead letters and re-send chosen ones (SPEC.md section 7, rule 16).

``lead-sla dlq list`` reads the dead-letter topic (``sla.dlq`` after the topic prefix) from the
beginning with its own consumer (no consumer group, nothing committed) up to the end offsets it
found when it started, within ``--timeout`` seconds, and prints one line per letter.
``lead-sla dlq resend`` re-sends the chosen originals byte for byte, with their original key and
headers, to the topic they were read from. A letter whose original was cut to fit
(``original_truncated``) cannot be re-sent and is refused; so is one with a null header value
(kafka-python cannot send one). Nothing is sent unless every chosen letter can be re-sent
(``--skip-unsendable`` sends the others).

A dead letter is identified by its position in the dead-letter topic, ``PARTITION:OFFSET``, as
``list`` shows it in its first column.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson
from pydantic import ValidationError

from leadsla.arguments import positive_int
from leadsla.schemas.dlq import DeadLetter
from leadsla.settings import Settings, SettingsError, client_config, settings_for_command
from leadsla.topics import SLA_DLQ

DEFAULT_TIMEOUT_S = 30.0

ENVIRONMENT_HELP = """\
environment:
  LEADSLA_BOOTSTRAP_SERVERS  brokers, comma separated (default kafka://127.0.0.1:9092)
  LEADSLA_TOPIC_PREFIX       prepended to every topic name: letters are read from
                             PREFIXsla.dlq (default: no prefix)
  LEADSLA_SECURITY_PROTOCOL  PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL
  LEADSLA_SASL_MECHANISM, LEADSLA_SASL_USERNAME, LEADSLA_SASL_PASSWORD
                             SASL login (mechanism default PLAIN)
  LEADSLA_SSL_CAFILE         CA certificates for SSL (default: the system's)
  LEADSLA_REQUEST_TIMEOUT_S  Kafka request timeout (default 30)
--bootstrap-servers and --prefix override the first two."""


class DlqError(Exception):
    """A problem to report in one line (no broker, no topic, a letter that cannot be sent)."""


class _OneLineParser(argparse.ArgumentParser):
    """Argument mistakes in one line (and exit 2), not the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:  # said here, in one line, rather than by the top-level parser
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Entry:
    """One record of the dead-letter topic: its position and the letter (or why it is none)."""

    partition: int
    offset: int
    letter: DeadLetter | None
    problem: str | None = None

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"


def parse_letter(partition: int, offset: int, value: bytes | None) -> Entry:
    """A dead-letter record as an :class:`Entry`; a record that is no letter says why."""
    try:
        letter = DeadLetter.model_validate(orjson.loads(value or b""))
    except orjson.JSONDecodeError as exc:
        return Entry(partition, offset, None, f"not a dead letter: not valid JSON ({exc})")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        return Entry(partition, offset, None, f"not a dead letter: {where}: {first['msg']}")
    return Entry(partition, offset, letter)


def read_dlq(settings: Settings, timeout_s: float) -> Iterator[Entry]:
    """Every record of the dead-letter topic, from the beginning up to its current end.

    Raises :class:`DlqError` when the broker does not answer, the topic does not exist, or the
    end is not reached within ``timeout_s`` (after yielding what was read).
    """
    from kafka import KafkaConsumer, TopicPartition

    topic = settings.topic(SLA_DLQ)
    deadline = time.monotonic() + timeout_s
    timeout_ms = max(int(timeout_s * 1000), 1000)
    config = client_config(settings)
    config["request_timeout_ms"] = min(config["request_timeout_ms"], timeout_ms)
    config["bootstrap_timeout_ms"] = timeout_ms
    try:
        consumer = KafkaConsumer(
            group_id=None,
            enable_auto_commit=False,
            allow_auto_create_topics=False,
            client_id="lead-sla-dlq",
            **config,
        )
    except Exception as exc:
        raise DlqError(f"cannot reach Kafka at {settings.bootstrap_servers}: {exc}") from None
    try:
        try:
            partitions = consumer.partitions_for_topic(topic)
        except Exception as exc:
            raise DlqError(
                f"cannot read the topics at {settings.bootstrap_servers}: {exc}"
            ) from None
        if not partitions:
            raise DlqError(
                f"topic {topic} does not exist at {settings.bootstrap_servers} "
                "(check LEADSLA_TOPIC_PREFIX, or run lead-sla topics create)"
            )
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        end = consumer.end_offsets(assigned, timeout_ms=timeout_ms)
        pending = {tp.partition: end[tp] for tp in assigned if consumer.position(tp) < end[tp]}
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                missing = ", ".join(f"{p}:{o}" for p, o in sorted(pending.items()))
                raise DlqError(
                    f"stopped after {timeout_s:g}s before the end of {topic} "
                    f"(partition:end not reached: {missing}); try a longer --timeout"
                )
            batches = consumer.poll(timeout_ms=int(min(left, 1.0) * 1000))
            for tp, messages in batches.items():
                for message in messages:
                    if message.offset < end.get(tp, 0):
                        yield parse_letter(tp.partition, message.offset, message.value)
            for tp in assigned:
                if tp.partition in pending and consumer.position(tp) >= end[tp]:
                    del pending[tp.partition]
    finally:
        consumer.close()


# --------------------------------------------------------------------------- list


def _one_line(text: str) -> str:
    return " ".join(text.split())


def original_size(letter: DeadLetter) -> int:
    """The whole original's length in bytes (older letters: the bytes they hold)."""
    if letter.original_length is not None:
        return letter.original_length
    return len(base64.b64decode(letter.original_base64))


def summary(entry: Entry) -> dict[str, Any]:
    """What ``list --json`` prints for one letter."""
    letter = entry.letter
    if letter is None:
        return {
            "dlq_partition": entry.partition,
            "dlq_offset": entry.offset,
            "problem": entry.problem,
        }
    return {
        "dlq_partition": entry.partition,
        "dlq_offset": entry.offset,
        "topic": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "event_id": letter.event_id,
        "lead_id": letter.lead_id,
        "reason": letter.reason,
        "size": original_size(letter),
        "truncated": letter.original_truncated,
        "received_at": letter.received_at,
    }


def list_letters(args: argparse.Namespace, settings: Settings) -> int:
    needle = args.reason.casefold() if args.reason else None
    shown: list[dict[str, Any]] = []
    total = 0
    problem: DlqError | None = None
    try:
        for entry in read_dlq(settings, args.timeout):
            total += 1
            row = summary(entry)
            text = row.get("reason") or row.get("problem") or ""
            if needle is not None and needle not in text.casefold():
                continue
            shown.append(row)
    except DlqError as exc:
        if total == 0:
            raise
        problem = exc
    shown.sort(key=lambda r: (r["dlq_partition"], r["dlq_offset"]))
    if args.limit is not None:
        shown = shown[: args.limit]
    if args.json:
        for row in shown:
            sys.stdout.buffer.write(orjson.dumps(row) + b"\n")
        sys.stdout.flush()
    else:
        print("DLQ\tTOPIC\tPARTITION\tOFFSET\tEVENT_ID\tLEAD_ID\tSIZE\tREASON")
        for row in shown:
            if "problem" in row:
                print(
                    f"{row['dlq_partition']}:{row['dlq_offset']}\t-\t-\t-\t-\t-\t-\t{row['problem']}"
                )
                continue
            size = f"{row['size']}{' (cut)' if row['truncated'] else ''}"
            print(
                f"{row['dlq_partition']}:{row['dlq_offset']}\t{row['topic']}\t{row['partition']}"
                f"\t{row['offset']}\t{row['event_id'] or '-'}\t{row['lead_id'] or '-'}"
                f"\t{size}\t{_one_line(row['reason'])}"
            )
    print(f"{len(shown)} shown of {total} records in {settings.topic(SLA_DLQ)}", file=sys.stderr)
    if problem is not None:
        print(f"lead-sla dlq: {problem}", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------- resend


@dataclass(frozen=True)
class Original:
    """A refused record, ready to be sent again as it came."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def original_of(letter: DeadLetter) -> Original:
    """The original record a letter holds; :class:`DlqError` when it cannot be re-sent whole."""
    if letter.original_truncated:
        raise DlqError(
            f"its original was cut to fit ({letter.original_length} bytes, sha256 "
            f"{letter.original_sha256}): re-send it from its source"
        )
    headers: list[tuple[str, bytes]] = []
    try:
        value = base64.b64decode(letter.original_base64, validate=True)
        key = None if letter.key_base64 is None else base64.b64decode(letter.key_base64)
        for header in letter.headers:
            if header.value_base64 is None:
                raise DlqError(
                    f"header {header.key!r} has a null value, which kafka-python cannot send"
                )
            headers.append((header.key, base64.b64decode(header.value_base64)))
    except binascii.Error as exc:
        raise DlqError(f"bad base64 in the letter: {exc}") from None
    if letter.original_length is not None and len(value) != letter.original_length:
        raise DlqError(
            f"the letter holds {len(value)} bytes, not the original's {letter.original_length}"
        )
    return Original(letter.topic, key, value, headers)


def _chosen(args: argparse.Namespace, entry: Entry) -> bool:
    if args.all:
        return True
    if args.offset:
        return (entry.partition, entry.offset) in args.offset
    return entry.letter is not None and entry.letter.event_id in args.event_id


def resend_letters(args: argparse.Namespace, settings: Settings) -> int:
    dlq_topic = settings.topic(SLA_DLQ)
    chosen: list[tuple[Entry, Original]] = []
    refused: list[str] = []
    found_positions: set[tuple[int, int]] = set()
    found_ids: set[str] = set()
    for entry in read_dlq(settings, args.timeout):
        if not _chosen(args, entry):
            continue
        found_positions.add((entry.partition, entry.offset))
        if entry.letter is None:
            refused.append(f"{dlq_topic} {entry.position}: {entry.problem}")
            continue
        if entry.letter.event_id is not None:
            found_ids.add(entry.letter.event_id)
        try:
            chosen.append((entry, original_of(entry.letter)))
        except DlqError as exc:
            refused.append(f"{dlq_topic} {entry.position}: not re-sent: {exc}")
    missing = [f"{p}:{o}" for p, o in args.offset or () if (p, o) not in found_positions]
    missing += [i for i in args.event_id or () if i not in found_ids]
    if missing:
        print(
            f"lead-sla dlq: no dead letter in {dlq_topic} for: {', '.join(missing)}",
            file=sys.stderr,
        )
        return 2
    for line in refused:
        print(f"lead-sla dlq: {line}", file=sys.stderr)
    if refused and not args.skip_unsendable:
        print(
            "lead-sla dlq: nothing re-sent (choose others with --offset, or --skip-unsendable)",
            file=sys.stderr,
        )
        return 2
    if not chosen:
        print(f"lead-sla dlq: no dead letter to re-send in {dlq_topic}", file=sys.stderr)
        return 0 if args.all and not refused else 2
    chosen.sort(key=lambda item: (item[0].partition, item[0].offset))
    if args.dry_run:
        for entry, original in chosen:
            print(f"would re-send {entry.position} -> {_describe(original)}")
        return 0
    sent = _send(settings, chosen, args.timeout)
    for entry, original, (partition, offset) in sent:
        print(f"re-sent {entry.position} -> {_describe(original)} at {partition}:{offset}")
    return 0


def _describe(original: Original) -> str:
    key = "no key" if original.key is None else f"key {original.key.decode('utf-8', 'replace')!r}"
    return f"{original.topic} ({key}, {len(original.headers)} headers, {len(original.value)} bytes)"


def _send(
    settings: Settings, chosen: Sequence[tuple[Entry, Original]], timeout_s: float
) -> list[tuple[Entry, Original, tuple[int, int]]]:
    from kafka import KafkaProducer

    timeout_ms = max(int(timeout_s * 1000), 1000)
    try:
        producer = KafkaProducer(
            acks="all",
            linger_ms=0,
            allow_auto_create_topics=False,
            client_id="lead-sla-dlq",
            **{**client_config(settings), "bootstrap_timeout_ms": timeout_ms},
        )
    except Exception as exc:
        raise DlqError(f"cannot reach Kafka at {settings.bootstrap_servers}: {exc}") from None
    sent: list[tuple[Entry, Original, tuple[int, int]]] = []
    try:
        for entry, original in chosen:
            try:
                metadata = producer.send(
                    original.topic,
                    value=original.value,
                    key=original.key,
                    headers=list(original.headers),
                ).get(timeout=timeout_s)
            except Exception as exc:
                done = f" ({len(sent)} re-sent before it)" if sent else ""
                for done_entry, done_original, (p, o) in sent:
                    print(f"re-sent {done_entry.position} -> {_describe(done_original)} at {p}:{o}")
                raise DlqError(
                    f"cannot re-send {entry.position} to {original.topic}: {exc}{done}"
                ) from None
            sent.append((entry, original, (metadata.partition, metadata.offset)))
        producer.flush(timeout=timeout_s)
    finally:
        producer.close(timeout=5)
    return sent


# --------------------------------------------------------------------------- the command


def _position(text: str) -> tuple[int, int]:
    partition, sep, offset = text.partition(":")
    try:
        if not sep:
            raise ValueError
        result = int(partition), int(offset)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not PARTITION:OFFSET (e.g. 0:42, the first column of dlq list)"
        ) from None
    if min(result) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: partition and offset are never negative")
    return result


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r}: between 0 and 3600 seconds")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"give up after this long: reaching the broker, reading, sending (default {DEFAULT_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--bootstrap-servers",
        default=None,
        metavar="HOSTS",
        help="brokers; overrides LEADSLA_BOOTSTRAP_SERVERS",
    )
    parser.add_argument(
        "--prefix", default=None, help="topic prefix; overrides LEADSLA_TOPIC_PREFIX"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = (
        "Dead letters (SPEC.md rule 16): inputs the worker refused, kept in the sla.dlq topic "
        "with the original bytes, key, headers, where they were read and why.\n\n"
        "  lead-sla dlq list [--limit N] [--reason TEXT] [--json]\n"
        "  lead-sla dlq resend (--offset P:O ... | --all | --event-id ID ...) [--dry-run]"
    )
    parser.epilog = ENVIRONMENT_HELP
    actions = parser.add_subparsers(
        dest="dlq_action", required=True, metavar="ACTION", parser_class=_OneLineParser
    )
    listing = actions.add_parser(
        "list",
        help="print the dead letters with their reasons",
        description="Read the dead-letter topic from the beginning to its current end (own "
        "consumer, no group, nothing committed) and print one line per letter, tab "
        "separated: DLQ (PARTITION:OFFSET of the letter, for resend --offset), TOPIC, "
        "PARTITION, OFFSET (where the original was read), EVENT_ID, LEAD_ID, SIZE (of the "
        "original in bytes; '(cut)' when the letter holds only its beginning) and REASON. "
        "A count goes to standard error.",
        epilog=ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        metavar="N",
        help="print the first N letters only",
    )
    listing.add_argument(
        "--reason",
        default=None,
        metavar="TEXT",
        help="only letters whose reason contains TEXT (case-insensitive)",
    )
    listing.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line (dlq_partition, dlq_offset, topic, partition, offset, "
        "event_id, lead_id, reason, size, truncated, received_at) instead of the table",
    )
    _common(listing)

    resend = actions.add_parser(
        "resend",
        help="re-send chosen originals to their topic",
        description="Re-send the chosen dead letters' originals byte for byte, with their "
        "original key and headers, to the topic they were read from (the worker reads them "
        "again, e.g. after a fix). A letter whose original was cut to fit is refused, and "
        "then nothing is sent (exit 2) unless --skip-unsendable is given.",
        epilog=ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    choice = resend.add_mutually_exclusive_group(required=True)
    choice.add_argument(
        "--offset",
        type=_position,
        nargs="+",
        action="extend",
        metavar="P:O",
        help="the letters at these PARTITION:OFFSET positions of the dead-letter topic "
        "(the DLQ column of dlq list)",
    )
    choice.add_argument("--all", action="store_true", help="every dead letter")
    choice.add_argument(
        "--event-id",
        nargs="+",
        action="extend",
        metavar="ID",
        help="every letter whose original has this event_id",
    )
    resend.add_argument(
        "--dry-run", action="store_true", help="print what would be re-sent; send nothing"
    )
    resend.add_argument(
        "--skip-unsendable",
        action="store_true",
        help="re-send the others when some chosen letters cannot be re-sent (cut originals)",
    )
    _common(resend)


def run(args: argparse.Namespace) -> int:
    try:
        settings = settings_for_command(args.bootstrap_servers, args.prefix)
    except SettingsError as exc:
        print(f"lead-sla dlq: {exc}", file=sys.stderr)
        return 2
    from leadsla.kafka_login import LoginFailed, check_login

    try:
        check_login(settings, args.timeout)
    except LoginFailed as exc:
        print(f"lead-sla dlq: {exc}", file=sys.stderr)
        return 2
    try:
        if args.dlq_action == "list":
            return list_letters(args, settings)
        return resend_letters(args, settings)
    except DlqError as exc:
        print(f"lead-sla dlq: {exc}", file=sys.stderr)
        return 1
