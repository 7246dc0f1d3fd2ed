"""Acceptance runner: given events and a policy, run the product, hand back its outputs.

The scenarios in this folder only talk to a :class:`Runner`; this module provides the one that
drives ``lead-sla replay`` in-process (SPEC.md section 7). A later runner (the Kafka worker) can
implement the same protocol and reuse every scenario.

The replay runner writes the input events as JSON lines in a deliberately shuffled order (fixed
seed), because replay must not depend on line order, calls ``leadsla.cli.main`` with
``--out``, captures standard error and reads the JSON-lines output back.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

DEFAULT_SEED = 20260302


def parse_ts(value: str) -> datetime:
    """An RFC 3339 timestamp as an aware datetime (outputs must say ``Z``; checked elsewhere)."""
    assert isinstance(value, str), f"expected a timestamp string, got {value!r}"
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, f"timestamp without offset: {value!r}"
    return parsed


@dataclass
class Result:
    """What one run produced: output events (in file order), exit code, standard error."""

    outputs: list[dict[str, Any]]
    raw: bytes = b""
    exit_code: int | None = 0
    stderr: str = ""
    stdout: str = ""
    input_lines: list[str] = field(default_factory=list)

    # ----------------------------------------------------------------- selection helpers
    def for_lead(self, lead: str) -> Result:
        return Result(
            [e for e in self.outputs if e.get("lead_id") == lead],
            self.raw,
            self.exit_code,
            self.stderr,
            self.stdout,
            self.input_lines,
        )

    def of_type(self, type_: str, lead: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.outputs
            if e.get("type") == type_ and (lead is None or e.get("lead_id") == lead)
        ]

    def one(self, type_: str, lead: str | None = None) -> dict[str, Any]:
        found = self.of_type(type_, lead)
        assert len(found) == 1, (
            f"expected exactly one {type_} (lead={lead}), got {len(found)}:\n{self.dump()}"
        )
        return found[0]

    def none(self, *types: str, lead: str | None = None) -> None:
        for type_ in types:
            found = self.of_type(type_, lead)
            assert not found, f"expected no {type_} (lead={lead}), got:\n{self.dump(found)}"

    def types(self, lead: str | None = None) -> list[str]:
        return [e["type"] for e in self.outputs if lead is None or e.get("lead_id") == lead]

    def facts(self, lead: str | None = None) -> list[dict[str, Any]]:
        found = self.of_type("sla.measured", lead)
        return sorted(found, key=lambda e: e["data"]["version"])

    def final_fact(self, lead: str | None = None) -> dict[str, Any]:
        """The ``data`` of the ``sla.measured`` with the highest version (of the one lead)."""
        found = self.of_type("sla.measured", lead)
        leads = {e["lead_id"] for e in found}
        assert found, f"no sla.measured (lead={lead}):\n{self.dump()}"
        assert len(leads) == 1, f"facts of several leads {sorted(leads)}: pass lead="
        data: dict[str, Any] = max(found, key=lambda e: e["data"]["version"])["data"]
        return data

    def by_id(self, event_id: str) -> dict[str, Any]:
        found = [e for e in self.outputs if e.get("event_id") == event_id]
        assert len(found) == 1, f"no single output with event_id {event_id!r}"
        return found[0]

    def dump(self, events: Sequence[dict[str, Any]] | None = None) -> str:
        rows = self.outputs if events is None else events
        lines = [
            f"  {e.get('occurred_at')} {e.get('lead_id')} {e.get('type')} "
            f"{json.dumps(e.get('data'), sort_keys=True, default=str)}"
            for e in rows
        ]
        tail = f"\n  [exit={self.exit_code}] stderr: {self.stderr.strip()[:2000]}"
        return "\n".join(lines) + tail


class Runner(Protocol):
    """Anything that can run a scenario: events + policy (+ the time to advance to)."""

    def run(
        self, events: Sequence[dict[str, Any]], policy_toml: str, now: str | None = None
    ) -> Result: ...


class RunScenario(Protocol):
    """The ``run`` fixture: ``run(events, policy_toml, now=None, *, extra_args=()) -> Result``."""

    def __call__(
        self,
        events: Sequence[dict[str, Any] | str],
        policy_toml: str,
        now: str | None = None,
        *,
        extra_args: Sequence[str] = (),
    ) -> Result: ...


def _encode(event: dict[str, Any] | str) -> str:
    if isinstance(event, str):
        return event
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


class _Capture(io.TextIOWrapper):
    """A text stream with a ``.buffer``, like ``sys.stderr``/``sys.stdout``."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", errors="replace", write_through=True)

    def text(self) -> str:
        self.flush()
        buffer = self.buffer
        assert isinstance(buffer, io.BytesIO)
        return buffer.getvalue().decode("utf-8", errors="replace")


def run_cli(argv: list[str]) -> tuple[int | None, str, str]:
    """``lead-sla ARGV`` in-process; like a process, an uncaught exception is exit code 1."""
    from leadsla import cli

    err = _Capture()
    out = _Capture()
    code: int | None
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = cli.main(argv)
        except SystemExit as stop:
            raw = stop.code
            code = raw if isinstance(raw, int) else (0 if raw is None else 1)
            if raw is not None and not isinstance(raw, int):
                print(raw, file=err)
        except Exception:  # an uncaught exception ends a real process with status 1
            traceback.print_exc(file=err)
            code = 1
    return code, err.text(), out.text()


@dataclass
class ReplayRunner:
    """Runs ``lead-sla replay`` in-process on files under ``workdir``."""

    workdir: Path
    seed: int | None = DEFAULT_SEED  # None: write the lines in the given order
    _count: int = 0

    def write_lines(self, lines: Sequence[dict[str, Any] | str]) -> tuple[Path, list[str]]:
        encoded = [_encode(e) for e in lines]
        if self.seed is not None:
            random.Random(self.seed).shuffle(encoded)
        self._count += 1
        path = self.workdir / f"events-{self._count}.jsonl"
        path.write_text("".join(line + "\n" for line in encoded), encoding="utf-8")
        return path, encoded

    def write_policy(self, policy_toml: str) -> Path:
        self._count += 1
        path = self.workdir / f"policy-{self._count}.toml"
        path.write_text(policy_toml, encoding="utf-8")
        return path

    def run(
        self,
        events: Sequence[dict[str, Any] | str],
        policy_toml: str,
        now: str | None = None,
        *,
        extra_args: Sequence[str] = (),
    ) -> Result:
        self.workdir.mkdir(parents=True, exist_ok=True)
        events_path, lines = self.write_lines(events)
        policy_path = self.write_policy(policy_toml)
        self._count += 1
        out_path = self.workdir / f"out-{self._count}.jsonl"
        argv = ["replay", str(events_path), "--policy", str(policy_path)]
        if now is not None:
            argv += ["--now", now]
        argv += ["--out", str(out_path), *extra_args]
        code, stderr, stdout = run_cli(argv)
        raw = out_path.read_bytes() if out_path.exists() else b""
        outputs = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
        return Result(outputs, raw, code, stderr, stdout, lines)


def replay(
    events: Sequence[dict[str, Any] | str],
    policy_toml: str,
    now: str | None = None,
    tmp_path: Path | None = None,
    *,
    seed: int | None = DEFAULT_SEED,
) -> Result:
    """One replay of ``events`` under ``policy_toml`` advanced to ``now`` (see ReplayRunner)."""
    if tmp_path is None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="leadsla-acc-") as tmp:
            return ReplayRunner(Path(tmp), seed=seed).run(events, policy_toml, now)
    return ReplayRunner(Path(tmp_path), seed=seed).run(events, policy_toml, now)


def mentions_line(stderr: str, line_no: int) -> bool:
    """Does standard error name line ``line_no`` ("line 3", "line: 3", "file.jsonl:3")?"""
    import re

    pattern = rf"(line\D{{0,3}}{line_no}\b|:{line_no}\b)"
    return re.search(pattern, stderr, flags=re.IGNORECASE) is not None
