"""The ``lead-sla`` command line: one entry point, one module per sub-command.

Each command module exposes ``add_arguments(parser)`` and ``run(args) -> int``; only the chosen
command's module is imported, so ``lead-sla replay`` never pays for importing faust.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from leadsla.outputs import OutputError

COMMANDS: dict[str, tuple[str, str]] = {
    "worker": ("leadsla.streams.worker", "run the live SLA worker on Kafka (faust)"),
    "replay": ("leadsla.replay", "replay input events from a JSON-lines file, no broker"),
    "compare": ("leadsla.compare", "replay one history under two policies and compare"),
    "simulate": ("leadsla.simulate", "generate a reproducible, realistic input workload"),
    "schemas": (
        "leadsla.schemas.export",
        "JSON Schemas of every event, the AsyncAPI document (schemas export DIR, schemas asyncapi FILE)",
    ),
    "topics": ("leadsla.streams.admin", "Kafka topic administration (topics create)"),
    "dlq": ("leadsla.dlq", "list dead letters and re-send chosen ones (dlq list, dlq resend)"),
    "project": ("leadsla.projections.project", "keep the SQL read models up to date"),
    "report": ("leadsla.projections.report", "the short list and compliance tables (SQL)"),
    "erase": ("leadsla.erase", "erasure on request: the worker forgets these leads"),
}


KAFKA_ENVIRONMENT = (
    "environment: LEADSLA_BOOTSTRAP_SERVERS (host:port,...), LEADSLA_TOPIC_PREFIX, "
    "LEADSLA_APP_ID, LEADSLA_SECURITY_PROTOCOL, LEADSLA_SASL_MECHANISM, LEADSLA_SASL_USERNAME, "
    "LEADSLA_SASL_PASSWORD, LEADSLA_SSL_CAFILE, LEADSLA_REQUEST_TIMEOUT_S (every LEADSLA_* "
    "variable: README, 'Running against a real cluster')"
)
ENVIRONMENT: dict[str, str] = {
    "worker": KAFKA_ENVIRONMENT
    + "; and LEADSLA_POLICY, LEADSLA_PARTITIONS, LEADSLA_STORE, LEADSLA_DATA_DIR, "
    "LEADSLA_SESSION_TIMEOUT_S, LEADSLA_HEARTBEAT_INTERVAL_S, LEADSLA_REBALANCE_TIMEOUT_S, "
    "LEADSLA_HELD_TIMEOUT_S, LEADSLA_RETENTION_DAYS, LEADSLA_METRICS_PORT, LEADSLA_LOG_LEVEL, "
    "LEADSLA_LOG_FORMAT, LEADSLA_STATE_CACHE",
    "replay": "environment: none (everything comes from the arguments)",
    "compare": "environment: none (everything comes from the arguments)",
    "simulate": "environment: none for a file; with --bootstrap, "
    + KAFKA_ENVIRONMENT.removeprefix("environment: "),
    "schemas": "environment: none",
    "topics": KAFKA_ENVIRONMENT + "; and LEADSLA_PARTITIONS, LEADSLA_REPLICATION_FACTOR",
    "dlq": KAFKA_ENVIRONMENT,
    "project": KAFKA_ENVIRONMENT + " (with --input FILE, none is read)",
    "report": "environment: none (everything comes from the arguments)",
    "erase": KAFKA_ENVIRONMENT,
}
EXIT_CODES = (
    "exit codes: 0 done; 1 the work failed (a broker that does not answer, a check that found "
    "differences); 2 usage or configuration (a bad argument, a missing or unwritable path, an "
    "unusable policy or setting); 70 an internal error (a bug: please report it, with "
    "--traceback); 130 interrupted"
)
INTERNAL_ERROR = 70


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (and the way to the help), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def version() -> str:
    from importlib import metadata  # only here: its import is a tenth of a short replay

    try:
        return f"lead-sla {metadata.version('lead-sla')}"
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "lead-sla (not installed)"


class VersionAction(argparse.Action):
    """``--version``: the installed version, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(version())
        parser.exit()


def build_parser(chosen: str | None) -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="lead-sla",
        description="Lead response SLA monitor (see README.md).",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action=VersionAction, help="show the version and exit")
    parser.add_argument(
        "--traceback",
        action="store_true",
        help="on an internal error, print the whole Python traceback (for a bug report)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, summary) in COMMANDS.items():
        command_parser = sub.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=f"{ENVIRONMENT.get(name, 'environment: none')}. {EXIT_CODES}.",
        )
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser)
            command_parser.set_defaults(run=module.run)
            if "exit codes" not in (command_parser.epilog or ""):
                # A command that wrote its own epilog (dlq) still says how it ends.
                command_parser.epilog = f"{command_parser.epilog}\n\n{EXIT_CODES}."
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in args_list if a in COMMANDS), None)
    args = build_parser(chosen).parse_args(args_list)
    name = f"lead-sla {args.command}"
    try:
        return int(args.run(args))
    except BrokenPipeError:
        # The reader went away (`lead-sla replay ... | head`): not an error of ours. Point
        # stdout at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except OutputError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # A missing, unreadable or unwritable path the command did not check itself.
        where = f" {exc.filename}" if exc.filename else ""
        print(f"{name}: {exc.strerror or exc}:{where}".rstrip(":"), file=sys.stderr)
        return 2
    except Exception as exc:
        if args.traceback:
            traceback.print_exc()
        print(
            f"{name}: internal error: {type(exc).__name__}: {exc} (a bug: please report it; "
            "run with --traceback for the details)",
            file=sys.stderr,
        )
        return INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
