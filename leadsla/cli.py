"""The ``lead-sla`` command line: one entry point, one module per sub-command.

Each command module exposes ``add_arguments(parser)`` and ``run(args) -> int``; only the chosen
command's module is imported, so ``lead-sla replay`` never pays for importing faust.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

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


def build_parser(chosen: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lead-sla", description="Lead response SLA monitor (see README.md)."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, summary) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=summary, description=summary)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser)
            command_parser.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    chosen = args_list[0] if args_list and args_list[0] in COMMANDS else None
    args = build_parser(chosen).parse_args(args_list)
    try:
        return int(args.run(args))
    except BrokenPipeError:
        # The reader went away (`lead-sla replay ... | head`): not an error of ours. Point
        # stdout at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
