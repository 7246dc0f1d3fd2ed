"""The external tools of the contract and operations checks (installed by devtools/ops_tools.sh).

``require_command`` and ``node_validator`` give the tool or end the test: a skip with the reason
outside CI, a failure under ``CI=true`` (a missing tool must never pass silently there).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / ".cache" / "node"
VALIDATOR = ROOT / "devtools" / "asyncapi" / "validate.mjs"
INSTALL_HINT = "run `bash devtools/ops_tools.sh` (make test does)"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str) -> None:
    message = f"{what} is missing: {INSTALL_HINT}"
    if in_ci():
        pytest.fail(message + " (CI=true: a missing tool fails)", pytrace=False)
    pytest.skip(message)


def require_command(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"`{name}`")
        raise AssertionError("unreachable")
    return path


def node_validator() -> list[str]:
    """The command line of devtools/asyncapi/validate.mjs with its packages installed."""
    node = require_command("node")
    if not (NODE_DIR / "node_modules" / "@asyncapi" / "parser").is_dir():
        missing(f"@asyncapi/parser in {NODE_DIR}")
    return [node, str(VALIDATOR)]


def node_env() -> dict[str, str]:
    return {**os.environ, "LEADSLA_NODE_DIR": str(NODE_DIR)}
