"""``lead-sla dlq`` without a broker: help, argument mistakes, no broker, reading a letter."""

from __future__ import annotations

import base64

import orjson
import pytest

from leadsla.cli import main
from leadsla.codec import encode_dlq
from leadsla.dlq import DlqError, original_of, parse_letter

pytestmark = [
    # kafka-python 3.0.12 loads its protocol schemas with importlib.resources' legacy API.
    pytest.mark.filterwarnings("ignore:read_text is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:open_text is deprecated:DeprecationWarning"),
]

ENVIRONMENT = ("LEADSLA_BOOTSTRAP_SERVERS", "LEADSLA_TOPIC_PREFIX", "LEADSLA_SECURITY_PROTOCOL")


@pytest.mark.parametrize("argv", [["dlq"], ["dlq", "list"], ["dlq", "resend"]])
def test_help_explains_the_arguments_and_the_environment(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--help"])

    out = capsys.readouterr().out
    assert stopped.value.code == 0
    assert all(name in out for name in ENVIRONMENT)
    assert "SASL" in out


def test_the_sub_commands_help_names_their_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["dlq", "list", "--help"])
    listing = capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["dlq", "resend", "--help"])
    resend = capsys.readouterr().out

    assert all(option in listing for option in ("--limit", "--reason", "--json"))
    assert all(option in resend for option in ("--offset", "--all", "--event-id", "--dry-run"))


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["dlq", "resend", "--offset", "7"], "is not PARTITION:OFFSET"),
        (["dlq", "resend", "--offset", "a:b"], "is not PARTITION:OFFSET"),
        (["dlq", "resend", "--offset", "1:-3"], "never negative"),
        (["dlq", "resend"], "one of the arguments --offset --all --event-id is required"),
        (["dlq", "resend", "--all", "--event-id", "e"], "not allowed with argument"),
        (["dlq", "list", "--limit", "0"], "must be 1 or more"),
        (["dlq", "list", "--timeout", "soon"], "is not a number of seconds"),
        (["dlq", "list", "--nope"], "unrecognized arguments"),
    ],
)
def test_argument_mistakes_are_one_line(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)

    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert err.count("\n") == 1
    assert says in err and "Traceback" not in err


def test_no_broker_is_one_line_and_a_non_zero_exit(capsys: pytest.CaptureFixture[str]) -> None:
    # Port 1 on the loopback: nothing listens there
    code = main(["dlq", "list", "--bootstrap-servers", "127.0.0.1:1", "--timeout", "2"])

    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith("lead-sla dlq: cannot reach Kafka at 127.0.0.1:1")


def test_bad_settings_are_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEADSLA_SECURITY_PROTOCOL", "CARRIER_PIGEON")

    code = main(["dlq", "list"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "LEADSLA_SECURITY_PROTOCOL" in err


def letter(original: bytes, **extra: object) -> bytes:
    return encode_dlq(
        original,
        topic="leads.created",
        partition=0,
        offset=3,
        reason="r",
        received_at=0,
        key=b"lead-1",
        headers=[("ce_id", b"evt-1")],
        **extra,  # type: ignore[arg-type]
    )


def test_a_whole_letter_gives_back_its_original() -> None:
    entry = parse_letter(0, 5, letter(b"\xff\x00 raw"))

    assert entry.letter is not None and entry.position == "0:5"
    original = original_of(entry.letter)
    assert (original.topic, original.key, original.value, original.headers) == (
        "leads.created",
        b"lead-1",
        b"\xff\x00 raw",
        [("ce_id", b"evt-1")],
    )


def test_a_cut_letter_cannot_be_re_sent() -> None:
    entry = parse_letter(0, 5, letter(b"x" * 50_000, max_bytes=10_000))

    assert entry.letter is not None and entry.letter.original_truncated
    with pytest.raises(DlqError, match="cut to fit"):
        original_of(entry.letter)


def test_a_letter_written_before_the_new_fields_can_be_re_sent() -> None:
    old = orjson.loads(letter(b"{}"))
    for name in ("original_length", "original_sha256", "original_truncated"):
        del old[name]

    entry = parse_letter(1, 2, orjson.dumps(old))

    assert entry.letter is not None
    assert original_of(entry.letter).value == b"{}"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (b"\xff", "not valid JSON"),
        (b"{}", "original_base64: Field required"),
        (None, "not valid JSON"),
        (
            orjson.dumps(
                {**orjson.loads(letter(b"x")), "original_base64": base64.b64encode(b"x").decode()}
                | {"partition": -1}
            ),
            "partition",
        ),
    ],
)
def test_a_record_that_is_no_letter_says_why(value: bytes | None, says: str) -> None:
    entry = parse_letter(0, 9, value)

    assert entry.letter is None
    assert entry.problem is not None and says in entry.problem
