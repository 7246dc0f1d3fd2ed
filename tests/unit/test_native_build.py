"""The mypyc-compiled modules (setup.py) and the pure Python ones give the same bytes.

``make venv`` compiles the replay's hot modules; ``LEADSLA_PURE=1`` (or compiled modules built
from other sources than the ones present) runs the ``.py`` files instead. Given the pinned input
of ``test_replay_partition.py``, when it is replayed by each path in a fresh process, then both
give the pinned digests, byte for byte.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import leadsla
from leadsla import native_state

DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = Path(leadsla.__file__).resolve().parent

# The digests pinned by tests/unit/test_replay_partition.py (the replay before issue 8).
PINNED = {
    "pinned-business.toml": "b73106b1c2f53d58d2cce7e8414a700b90adbd2105ba10028183d7137cdf2667",
    "pinned-calendar.toml": "1b8ed5f718e7332d239492c26801579404febce41c7212430b5686f6749e5338",
}

_REPLAY = """\
import json, sys
import leadsla
from leadsla import replay
from leadsla.codec import inputs, outputs
from leadsla.domain import engine
replay.run_replay(sys.argv[1], sys.argv[2], sys.argv[3], jobs=int(sys.argv[4]))
print(json.dumps({"native": leadsla.NATIVE, "engine": engine.__file__, "replay": replay.__file__,
                  "inputs": inputs.__file__, "outputs": outputs.__file__,
                  "c_encoder": outputs._NATIVE_ENCODE is not None,
                  "c_decoder": inputs._NATIVE_DECODE is not None}))
"""


def _compiled_here() -> bool:
    """Whether this checkout has usable compiled modules; under CI=true they must exist."""
    state = native_state(ROOT, {})
    if state != "compiled":
        if os.environ.get("CI") == "true":
            pytest.fail(f"make venv should have compiled the hot modules: {state}")
        pytest.skip(f"no compiled modules here: {state}")
    return True


def _replay(events: Path, policy: str, out: Path, jobs: int, pure: bool) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "LEADSLA_PURE"}
    if pure:
        env["LEADSLA_PURE"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", _REPLAY, str(events), str(DATA / policy), str(out), str(jobs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


@pytest.fixture(scope="module")
def pinned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pinned") / "pinned.jsonl"
    path.write_bytes(gzip.decompress((DATA / "pinned-2500.jsonl.gz").read_bytes()))
    return path


@pytest.mark.parametrize(
    ("policy", "jobs"), [("pinned-business.toml", 2), ("pinned-calendar.toml", 1)]
)
def test_compiled_and_pure_replays_give_the_same_bytes(
    pinned: Path, tmp_path: Path, policy: str, jobs: int
) -> None:
    # Given a checkout whose hot modules are compiled
    _compiled_here()

    # When the pinned input is replayed by the compiled and by the pure modules
    compiled = _replay(pinned, policy, tmp_path / "compiled.jsonl", jobs, pure=False)
    pure = _replay(pinned, policy, tmp_path / "pure.jsonl", jobs, pure=True)

    # Then each ran the path it was asked for
    assert compiled["native"] == "compiled"
    for module in ("engine", "replay", "inputs", "outputs"):
        assert not compiled[module].endswith(".py"), module
        assert pure[module].endswith(".py"), module
    assert pure["native"] == "pure (LEADSLA_PURE is set)"
    assert compiled["c_encoder"] is True
    assert pure["c_encoder"] is False
    assert compiled["c_decoder"] is True
    assert pure["c_decoder"] is False
    # And both wrote the pinned bytes
    for name in ("compiled.jsonl", "pure.jsonl"):
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == PINNED[policy]


def _package(tmp_path: Path, modules: dict[str, bytes]) -> Path:
    root = tmp_path / "leadsla"
    for name, source in modules.items():
        path = root.joinpath(*name.split(".")[1:]).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(source)
    digests = {name: hashlib.sha256(source).hexdigest() for name, source in modules.items()}
    (root / "_native.json").write_text(json.dumps({"group": "g", "modules": digests}))
    return root


def test_compiled_modules_run_only_when_built_from_the_sources_present(tmp_path: Path) -> None:
    # Given a package whose manifest holds the digests of its sources
    root = _package(tmp_path, {"leadsla.domain.engine": b"x = 1\n", "leadsla.codec": b"y = 2\n"})

    # When nothing changed, then the compiled modules may run
    assert native_state(root, {}) == "compiled"
    # When asked for the pure path, then it runs
    assert native_state(root, {"LEADSLA_PURE": "1"}) == "pure (LEADSLA_PURE is set)"
    assert native_state(root, {"LEADSLA_PURE": "0"}) == "compiled"
    # When a compiled module's source changed (an edit, a mutation), then the pure path runs
    (root / "domain" / "engine.py").write_bytes(b"x = 2\n")
    assert native_state(root, {}).startswith("pure (compiled from another leadsla.domain.engine")
    # When a source is missing, or there is no manifest, then the pure path runs
    (root / "domain" / "engine.py").unlink()
    assert native_state(root, {}) == "pure (leadsla.domain.engine has no source)"
    (root / "_native.json").unlink()
    assert native_state(root, {}) == "pure (not compiled)"


def test_the_c_encoder_runs_only_when_built_from_the_source_present(tmp_path: Path) -> None:
    # Given a package whose manifest holds the digests of its sources and of its C source
    root = _package(tmp_path, {"leadsla.codec": b"y = 2\n"})
    (root / "_lines.c").write_bytes(b"int x;\n")
    manifest = json.loads((root / "_native.json").read_text())
    manifest["c_sources"] = {"_lines.c": hashlib.sha256(b"int x;\n").hexdigest()}
    (root / "_native.json").write_text(json.dumps(manifest))
    assert native_state(root, {}) == "compiled"
    # When the C source changed, then the pure path runs (and the C encoder with it)
    (root / "_lines.c").write_bytes(b"int y;\n")
    assert native_state(root, {}).startswith("pure (compiled from another _lines.c")
    # When it is missing, too
    (root / "_lines.c").unlink()
    assert native_state(root, {}) == "pure (_lines.c has no source)"


def test_the_pure_path_never_loads_an_extension(tmp_path: Path) -> None:
    # Given the pure path asked for
    code = (
        "import sys, leadsla.replay, leadsla.compare, leadsla.domain.engine\n"
        "mods = [m for n, m in sys.modules.items() if n.startswith('leadsla')]\n"
        "print(sorted(str(getattr(m, '__file__', '')) for m in mods if "
        "not str(getattr(m, '__file__', '')).endswith('.py')))\n"
        "print('leadsla_native__mypyc' in sys.modules)\n"
    )
    env = dict(os.environ, LEADSLA_PURE="1")
    # When the replay's modules are imported
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    # Then every one came from its .py file, and the shared library was never loaded
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[]", "False"]


def test_the_compiled_modules_were_built_with_a_fixed_hash_seed() -> None:
    # Given the compiled modules of this checkout (make venv)
    _compiled_here()
    manifest = json.loads((ROOT / "_native.json").read_text(encoding="utf-8"))
    # Then they were compiled with the hash seed `make venv` fixes: mypy's inference of a union
    # of bool, int and float varies with the seed (python/mypy#1850), and a build with another
    # seed once narrowed an int to bool in the live worker's digest (every lead's step raised)
    assert manifest.get("hash_seed") == "0", manifest.get("hash_seed")


def test_a_live_digest_takes_the_ints_bools_and_floats_of_any_record() -> None:
    # Given outputs whose data mix ints (instants), bools (contact_details) and floats (minutes)
    from leadsla.domain import live
    from leadsla.domain.outputs import Breach, Output, Timer

    t0 = 1_772_442_000_000_000
    due = t0 + 15 * 60_000_000
    timer = Timer("ann", None, "mgr", due, due - 60_000_000, 15.0, "calendar", "web", "high")
    breach = Breach(
        "web", "high", t0, "ann", due, None, "mgr", "no_owner", False, True, "Ann", True
    )
    # When each is digested (compiled: the module's own check of every value's type)
    for output in (Output("sla.timer_started", t0, timer), Output("sla.breached", t0, breach)):
        first = live._digest(output)
        # Then it gives a digest, the same again from the cache
        assert len(first) == 24
        assert live._digest(output) == first
