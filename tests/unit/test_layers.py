"""The layer rule (ARCHITECTURE.md): ``domain/`` imports only the standard library and itself.

import-linter (``lint-imports``, run by ``make lint``) checks the contracts between the project's
own packages; it cannot say "the standard library only", so this test reads every import
statement of ``domain/`` and refuses anything else.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "domain"


def _imports(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_domain_imports_only_the_standard_library_and_itself() -> None:
    offenders = [
        f"{path.name}:{line}: import {name}"
        for path in sorted(DOMAIN.glob("*.py"))
        for line, name in _imports(path)
        if name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] != "__future__"
    ]
    assert offenders == [], "domain/ must import only the standard library:\n" + "\n".join(
        offenders
    )


def test_the_check_sees_a_wrong_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import orjson\nfrom leadsla.schemas import inputs\nimport json\n")
    names = [name for _, name in _imports(bad)]
    assert [n for n in names if n.split(".")[0] not in sys.stdlib_module_names] == [
        "orjson",
        "leadsla.schemas",
    ]
