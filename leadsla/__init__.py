"""lead-sla: a lead response SLA monitor on Apache Kafka."""

from __future__ import annotations

__version__ = "0.1.0"

# The replay's hot modules may be compiled with mypyc (setup.py): C extensions next to their
# sources, and the C encoder ``_lines`` (``_lines.c``) and decoder ``_events`` (``_events.c``).
# They are loaded only when they were all built from exactly the sources present
# (``_native.json`` holds their digests) and ``LEADSLA_PURE`` is unset; otherwise every
# ``leadsla.*`` module is loaded from its ``.py`` file and neither C module is used (same
# output, slower).

import hashlib as _hashlib
import importlib.machinery as _machinery
import json as _json
import os as _os
import sys as _sys
from collections.abc import Mapping as _Mapping
from collections.abc import Sequence as _Sequence
from pathlib import Path as _Path
from types import ModuleType as _ModuleType


class _SourceFinder:
    """Finds ``leadsla.*`` modules as ``.py`` files only, except the compiled modules in use."""

    compiled: frozenset[str] = frozenset()

    @classmethod
    def find_spec(
        cls,
        fullname: str,
        path: _Sequence[str] | None = None,
        target: _ModuleType | None = None,
    ) -> _machinery.ModuleSpec | None:
        if not fullname.startswith("leadsla.") or path is None or fullname in cls.compiled:
            return None  # the usual import system (an extension module first)
        loader = (_machinery.SourceFileLoader, _machinery.SOURCE_SUFFIXES)
        for entry in path:
            spec = _machinery.FileFinder(entry, loader).find_spec(fullname, target)
            if spec is not None and spec.loader is not None:
                return spec
        return None


def _manifest(root: _Path, section: str = "modules") -> dict[str, str]:
    """A section of the build's manifest: ``modules``, the compiled modules (name -> sha256 of
    the source they were compiled from); ``c_sources``, the extensions written in C (source
    file in ``root`` -> sha256 of the source they were built from)."""
    try:
        manifest = _json.loads((root / "_native.json").read_text(encoding="utf-8"))
        found = manifest[section]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return found if isinstance(found, dict) else {}


def native_state(root: _Path, environ: _Mapping[str, str]) -> str:
    """``compiled`` if the package in ``root`` may load its compiled modules, else ``pure (why)``."""
    if environ.get("LEADSLA_PURE", "") not in ("", "0"):
        return "pure (LEADSLA_PURE is set)"
    modules = _manifest(root)
    sources = {
        module: root.joinpath(*module.split(".")[1:]).with_suffix(".py") for module in modules
    }
    digests = dict(modules)
    for name, digest in _manifest(root, "c_sources").items():
        sources[name] = root / name
        digests[name] = digest
    for module, source in sources.items():
        try:
            if _hashlib.sha256(source.read_bytes()).hexdigest() != digests[module]:
                return f"pure (compiled from another {module}: make venv rebuilds)"
        except OSError:
            return f"pure ({module} has no source)"
    return "compiled" if modules else "pure (not compiled)"


def native_extensions() -> frozenset[str]:
    """The C sources built into extensions of this package (``_lines.c``, ``_events.c``), when
    :data:`NATIVE` is ``compiled``."""
    return frozenset(_manifest(_ROOT, "c_sources")) if NATIVE == "compiled" else frozenset()


_ROOT = _Path(__file__).resolve().parent
NATIVE: str = native_state(_ROOT, _os.environ)
"""``compiled`` when the mypyc-compiled modules run, else ``pure (reason)``."""

# Only the modules of a matching build may load as extensions; every other ``leadsla.*`` module
# (all of them on the pure path, or one left over from an older build) loads from its source.
_SourceFinder.compiled = frozenset(_manifest(_ROOT)) if NATIVE == "compiled" else frozenset()
if _SourceFinder not in _sys.meta_path:
    _sys.meta_path.insert(0, _SourceFinder)
