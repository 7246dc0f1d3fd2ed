"""JSON Schema files of every event, and the ``lead-sla schemas export DIR`` command.

One file per event type (``lead.created.json``, ``sla.breached.json``, ...), the two
discriminated unions (``input-envelope.json``, ``output-envelope.json``) and the dead-letter
record (``dlq-record.json``). The output is deterministic (sorted keys, two-space indent,
trailing newline) so the checked-in copy under ``schemas/json/`` can be compared byte for byte.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter

from .dlq import DeadLetter
from .inputs import INPUT_EVENT_ADAPTER, INPUT_MODELS
from .outputs import OUTPUT_EVENT_ADAPTER, OUTPUT_MODELS

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
REGENERATE_COMMAND = "lead-sla schemas export schemas/json"
# Documents kept in the same folder but exported (and drift-checked) by another module.
OTHER_DOCUMENTS = frozenset({"report.schema.json"})  # leadsla.projections.report_schema


def _document(schema: dict[str, Any], title: str, description: str | None = None) -> bytes:
    schema = {"$schema": JSON_SCHEMA_DIALECT, **schema, "title": title}
    if description is not None:
        schema["description"] = description
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def _model_schema(model: type[BaseModel] | TypeAdapter[Any]) -> dict[str, Any]:
    if isinstance(model, TypeAdapter):
        return model.json_schema(mode="validation")
    return model.model_json_schema(mode="validation")


def schema_documents() -> dict[str, bytes]:
    """File name -> file content of every JSON Schema document."""
    documents: dict[str, bytes] = {}
    for type_, input_model in INPUT_MODELS.items():
        documents[f"{type_}.json"] = _document(
            _model_schema(input_model), type_, f"Input event {type_} (SPEC.md section 2)"
        )
    for type_, output_model in OUTPUT_MODELS.items():
        documents[f"{type_}.json"] = _document(
            _model_schema(output_model), type_, f"Output event {type_} (SPEC.md section 5)"
        )
    documents["input-envelope.json"] = _document(
        _model_schema(INPUT_EVENT_ADAPTER),
        "input event",
        "Any input event, discriminated by type",
    )
    documents["output-envelope.json"] = _document(
        _model_schema(OUTPUT_EVENT_ADAPTER),
        "output event",
        "Any output event, discriminated by type",
    )
    documents["dlq-record.json"] = _document(_model_schema(DeadLetter), "dead letter")
    return dict(sorted(documents.items()))


def export_schemas(directory: str | Path) -> list[Path]:
    """Write every JSON Schema document into ``directory`` (created if missing)."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, content in schema_documents().items():
        path = target / name
        path.write_bytes(content)
        written.append(path)
    return written


def check_schemas(directory: str | Path) -> list[str]:
    """What differs between ``directory`` and a fresh export: one line per file, empty if none."""
    target = Path(directory)
    problems: list[str] = []
    documents = schema_documents()
    for name, content in documents.items():
        path = target / name
        if not path.is_file():
            problems.append(f"missing: {path}")
        elif path.read_bytes() != content:
            problems.append(f"differs: {path}")
    if target.is_dir():
        for path in sorted(target.glob("*.json")):
            if path.name not in documents and path.name not in OTHER_DOCUMENTS:
                problems.append(f"stale (no model exports it; delete it): {path}")
    return problems


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="schemas_action", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="write the JSON Schema of every event into DIR",
        description="Write the JSON Schema of every input and output event, the two envelope "
        "unions and the dead-letter record into DIR (one file per event type).",
    )
    export.add_argument(
        "directory",
        metavar="DIR",
        type=Path,
        help="the folder to write the schemas into (created if missing)",
    )
    export.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when DIR differs from what export would write",
    )
    from .asyncapi import add_parser as add_asyncapi_parser

    add_asyncapi_parser(actions)


def run(args: argparse.Namespace) -> int:
    if args.schemas_action == "asyncapi":
        from .asyncapi import run as run_asyncapi

        return run_asyncapi(args)
    if args.schemas_action != "export":  # pragma: no cover - argparse refuses other actions
        raise SystemExit(f"unknown schemas action {args.schemas_action!r}")
    if args.check:
        problems = check_schemas(args.directory)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(f"regenerate with: lead-sla schemas export {args.directory}", file=sys.stderr)
            return 1
        return 0
    if args.directory.exists() and not args.directory.is_dir():
        print(
            f"lead-sla schemas export: {args.directory} exists and is not a folder",
            file=sys.stderr,
        )
        return 2
    for path in export_schemas(args.directory):
        print(path)
    for problem in check_schemas(args.directory):
        print(problem, file=sys.stderr)
    return 0
