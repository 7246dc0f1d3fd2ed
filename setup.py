"""Build of lead-sla: everything is in pyproject.toml except the compiled modules (mypyc).

The replay's hot modules (``NATIVE_SOURCES``) are compiled with mypyc (pinned through mypy in
``[build-system]`` and ``requirements.lock``) into C extensions placed next to their sources:
by ``pip install -e .`` (``make venv``, in place) and by a wheel build. The ``.py`` files stay
the reference: ``LEADSLA_PURE=1`` at run time, or compiled modules that were built from other
sources than the ones present (``leadsla/_native.json`` holds their digests), run the pure
Python path (``leadsla/__init__.py``), which gives byte-identical output
(``tests/unit/test_native_build.py``).

``LEADSLA_COMPILE=0`` at build time installs without compiling (no C compiler needed).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent

# Modules compiled together into one shared library (calls between them stay native). Chosen by
# profile (README "Benchmarks"): the engine and what it calls, the live worker's step
# (domain/live.py), the codec's decoding and encoding, the replay's decode/fold loop and the spill,
# and the worker's per-record work and state codec (streams/process.py, streams/state.py: 11 % less
# CPU per event in `bench_worker.py process`). Compiled functions check their arguments' declared
# types and cannot be replaced by monkeypatching a module attribute: leadsla/codec/dead_letters.py
# stays pure because its dead-letter encoder must take anything without raising
# (tests/unit/test_dead_letters.py). Every module listed must pass the whole test suite compiled
# and pure (tests/unit/test_native_build.py compares the output).
NATIVE_SOURCES = [
    "leadsla/domain/instant.py",
    "leadsla/domain/events.py",
    "leadsla/domain/calendar.py",
    "leadsla/domain/policy.py",
    "leadsla/domain/engine.py",
    "leadsla/domain/live.py",
    "leadsla/codec/common.py",
    "leadsla/codec/cloudevents.py",
    "leadsla/codec/inputs.py",
    "leadsla/codec/outputs.py",
    "leadsla/replay.py",
    "leadsla/partition.py",
    "leadsla/streams/process.py",
    "leadsla/streams/state.py",
]
# The replay's output encoder and input decoder, written in C (leadsla/_lines.c: the Python loop
# of leadsla/codec/outputs.py is its reference; leadsla/_events.c: the fast path of
# leadsla/codec/inputs.py is); built and loaded with the modules above.
C_SOURCES = ["leadsla/_lines.c", "leadsla/_events.c"]
GROUP = "leadsla_native"
MANIFEST = ROOT / "leadsla" / "_native.json"

# mypy's options for the compilation, independent of pyproject's [tool.mypy] (whose pydantic
# plugin is not needed to compile these modules, and may be missing in an isolated build).
MYPYC_OPTIONS = [
    "--config-file=",
    "--python-version=3.11",
    "--follow-imports=silent",
    "--ignore-missing-imports",
    "--cache-dir=build/mypyc-cache",  # not .mypy_cache: `make typecheck` runs other options
]


def digest(source: str) -> str:
    """The sha256 of a source file (what ``leadsla/__init__.py`` checks at import)."""
    return hashlib.sha256((ROOT / source).read_bytes()).hexdigest()


def source_digests(sources: list[str]) -> dict[str, str]:
    """Module name -> :func:`digest` of its source."""
    return {source.removesuffix(".py").replace("/", "."): digest(source) for source in sources}


def native_extensions() -> list[object]:
    if os.environ.get("LEADSLA_COMPILE", "1") == "0":
        MANIFEST.unlink(missing_ok=True)  # left-over extensions are then never loaded
        return []
    if {"egg_info", "dist_info"} & set(sys.argv):
        return []  # metadata only: nothing to compile
    from mypyc.build import mypycify
    from setuptools import Extension

    sources = [s for s in NATIVE_SOURCES if (ROOT / s).is_file()]
    extensions = list(mypycify(MYPYC_OPTIONS + sources, opt_level="3", group_name=GROUP))
    for source in C_SOURCES:
        name = source.removesuffix(".c").replace("/", ".")
        extensions.append(
            Extension(name, [source], extra_compile_args=["-O2", "-std=c11", "-Wall", "-Werror"])
        )
    c_sources = {source.removeprefix("leadsla/"): digest(source) for source in C_SOURCES}
    # The hash seed of this compilation: mypy's inference of a union of bool, int and float can
    # vary with it (python/mypy#1850), so `make venv` fixes it (test_native_build.py checks).
    seed = os.environ.get("PYTHONHASHSEED", "random")
    manifest = {
        "group": GROUP,
        "modules": source_digests(sources),
        "c_sources": c_sources,
        "hash_seed": seed,
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return extensions


setup(ext_modules=native_extensions())
