"""SPEC section 8 on the real worker: the acceptance scenarios of ``tests/acceptance`` run live.

Given every scenario of ``tests/acceptance`` (collected by calling its test functions with a
recording ``run``/``runner`` that still replays, so their own assertions hold), kept when its
policy is on the calendar clock and its inputs are usable events;
when each scenario is rebased to now with time running ``FACTOR`` times faster (the policy's
target minutes and ``grace_seconds`` and every ``occurred_at`` scaled alike, so a 60-minute window
lasts 3 s), its lead and event ids namespaced, and ONE ``lead-sla worker`` per distinct policy
runs all of that policy's scenarios side by side, each event produced at its own (scaled)
``occurred_at`` (past ones at once);
then, once every worker is quiet after the last deadline (+ grace), the worker's final facts
(every field but ``version``) and its standing alerts and tasks equal ``lead-sla replay`` of the
same inputs with ``--now`` at that moment.

Events after a scenario's own ``now`` are cut (replay would not apply them); the comparison is
at the quiet moment, later than the scenario's ``now``, on both sides.
"""

from __future__ import annotations

import importlib
import inspect
import re
import threading
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from leadsla.policy_file import PolicyError, parse_policy

from .worker_harness import (
    Feed,
    OutputLog,
    Worker,
    WorkerEnv,
    compare,
    iso,
    last_instant,
    missing_ce_headers,
    now_us,
    parse_iso,
    replay,
    wait_group_stable,
    workers,
)

pytestmark = pytest.mark.kafka

FACTOR = 1200
"""Scenario time runs this many times faster than the wall clock (1 minute -> 50 ms)."""
HORIZON_MINUTES = 525_600  # nothing in a scenario is ever suppressed
QUIET_S = 2.0
BASE_US = parse_iso("2026-03-02T09:00:00Z")  # tests/acceptance/scenario.py BASE
ACCEPTANCE = Path(__file__).resolve().parents[1] / "acceptance"


# --------------------------------------------------------------------------- collection


@dataclass
class Scenario:
    test_id: str
    events: list[dict[str, Any]]
    policy_toml: str
    now: str | None


@dataclass
class Collection:
    kept: list[Scenario] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    tests_run: int = 0

    def skip(self, reason: str, test_id: str) -> None:
        self.skipped.setdefault(reason, []).append(test_id)


def _cases(fn: Callable[..., Any]) -> list[dict[str, Any]]:
    """The parameter sets of a test function's ``@pytest.mark.parametrize`` marks."""
    cases: list[dict[str, Any]] = [{}]
    for mark in getattr(fn, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        raw_names = mark.args[0]
        names = (
            [n.strip() for n in raw_names.split(",")]
            if isinstance(raw_names, str)
            else list(raw_names)
        )
        expanded = []
        for case in cases:
            for value in mark.args[1]:
                value = getattr(value, "values", value)  # pytest.param(...)
                values = value if len(names) > 1 else (value,)
                expanded.append({**case, **dict(zip(names, values, strict=True))})
        cases = expanded
    return cases


def collect_scenarios(workdir: Path) -> Collection:
    """Run every acceptance test function with a recording replay runner; keep the usable."""
    from tests.acceptance.runner import ReplayRunner, Result

    found = Collection()
    current: list[str] = [""]
    recorded: list[Scenario] = []
    usable: dict[str, bool] = {}

    class RecordingRunner(ReplayRunner):
        def run(
            self,
            events: Any,
            policy_toml: str,
            now: str | None = None,
            *,
            extra_args: Any = (),
        ) -> Result:
            if extra_args:
                usable[current[0]] = False  # options the worker does not have
            recorded.append(Scenario(current[0], list(events), policy_toml, now))
            return super().run(events, policy_toml, now, extra_args=extra_args)

    for path in sorted(ACCEPTANCE.glob("test_*.py")):
        module = importlib.import_module(f"tests.acceptance.{path.stem}")
        for name, fn in sorted(vars(module).items()):
            if not name.startswith("test_") or not inspect.isfunction(fn):
                continue
            params = list(inspect.signature(fn).parameters)
            for number, case in enumerate(_cases(fn)):
                test_id = f"{path.stem}::{name}" + (f"[{number}]" if case else "")
                runner = RecordingRunner(workdir / f"collect-{len(recorded)}")
                runner.workdir.mkdir(parents=True, exist_ok=True)
                current[0] = test_id
                kwargs: dict[str, Any] = {}
                for param in params:
                    if param in case:
                        kwargs[param] = case[param]
                    elif param == "run":
                        kwargs[param] = runner.run
                    elif param == "runner":
                        kwargs[param] = runner
                    elif param == "tmp_path":
                        kwargs[param] = runner.workdir
                    elif param == "rich":
                        kwargs[param] = runner.run(
                            module.rich_history(), module.rich_policy(), now=module.NOW
                        )
                    else:
                        found.skip(f"fixture {param!r} not supported", test_id)
                        break
                else:
                    before = len(recorded)
                    found.tests_run += 1
                    try:
                        fn(**kwargs)
                    except Exception as exc:  # the scenario's own assertion: not ours to judge
                        found.skip(f"failed under replay ({type(exc).__name__})", test_id)
                        del recorded[before:]
    for scenario in recorded:
        reason = _unusable(scenario) if usable.get(scenario.test_id, True) else "extra options"
        if reason:
            found.skip(reason, scenario.test_id)
        else:
            found.kept.append(scenario)
    return found


def _unusable(scenario: Scenario) -> str | None:
    try:
        policy = tomllib.loads(scenario.policy_toml)
        parse_policy(scenario.policy_toml)
    except (tomllib.TOMLDecodeError, PolicyError):
        return "invalid policy"
    if policy.get("clock", "calendar") != "calendar":
        return "business clock"
    if scenario.now is not None:
        try:
            parse_iso(scenario.now)
        except ValueError:
            return "unusable --now"
    for item in scenario.events:
        if not isinstance(item, dict):
            return "raw (non-event) lines"
        if not isinstance(item.get("lead_id"), str) or not isinstance(item.get("event_id"), str):
            return "events without a string lead_id/event_id"
        try:
            parse_iso(str(item.get("occurred_at")))
        except ValueError:
            return "events with an unusable occurred_at"
    return None


# --------------------------------------------------------------------------- scaling


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def _toml_table(prefix: str, table: Mapping[str, Any]) -> str:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    out = "".join(f"{orjson.dumps(k).decode()} = {_toml_value(v)}\n" for k, v in scalars.items())
    for key, value in table.items():
        if isinstance(value, dict):
            name = (
                f"{prefix}.{orjson.dumps(key).decode()}" if prefix else orjson.dumps(key).decode()
            )
            out += f"\n[{name}]\n" + _toml_table(name, value)
    return out


def scaled_policy(policy_toml: str) -> str:
    """The policy with every window and ``grace_seconds`` divided by ``FACTOR``, a catch-all
    target (the implicit 60 minutes, scaled), and an alert horizon nothing reaches."""
    policy = tomllib.loads(policy_toml)
    targets = [dict(t) for t in policy.pop("targets", [])]
    for target in targets:
        target["minutes"] = target["minutes"] / FACTOR
    if not any("source" not in t and "priority" not in t for t in targets):
        targets.append({"minutes": 60 / FACTOR})  # the implicit "no match: 60 minutes"
    policy["grace_seconds"] = policy.get("grace_seconds", 0) / FACTOR
    policy["alert_horizon_minutes"] = HORIZON_MINUTES
    text = _toml_table("", policy)
    for target in targets:
        text += "\n[[targets]]\n" + _toml_table("", target)
    parse_policy(text)  # the rewrite must be a valid policy
    return text


def scaled_events(scenario: Scenario, ns: str, t0_us: int) -> list[dict[str, Any]]:
    """Events at or before the scenario's ``now``, namespaced, rebased to ``t0_us``, faster."""
    cut = parse_iso(scenario.now) if scenario.now is not None else None
    out = []
    for item in scenario.events:
        moment = parse_iso(str(item["occurred_at"]))
        if cut is not None and moment > cut:
            continue
        copy = dict(item)
        copy["lead_id"] = ns + item["lead_id"]
        copy["event_id"] = ns + item["event_id"]
        copy["occurred_at"] = iso(t0_us + (moment - BASE_US) // FACTOR)
        out.append(copy)
    return out


# --------------------------------------------------------------------------- the run


@dataclass
class Group:
    number: int
    policy_text: str
    scenarios: list[tuple[str, Scenario]]  # (namespace, scenario)
    env: WorkerEnv | None = None
    policy_path: Path | None = None
    worker: Worker | None = None
    log: OutputLog | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    not_before_us: int = 0


@pytest.mark.kafka(limit_s=300)
def test_acceptance_scenarios_through_the_live_worker(
    worker_env: Callable[..., WorkerEnv], tmp_path: Path
) -> None:
    collection = collect_scenarios(tmp_path / "collect")
    skipped = {reason: len(ids) for reason, ids in collection.skipped.items()}
    print(
        f"\nacceptance tests run: {collection.tests_run}; scenarios kept: "
        f"{len(collection.kept)}; skipped: {skipped}"
    )
    # The recording must really collect the suite (a broken collector must not pass quietly).
    assert len(collection.kept) >= 200, skipped
    assert "business clock" in collection.skipped, "business-clock scenarios were not seen"

    groups: dict[str, Group] = {}
    for index, scenario in enumerate(collection.kept):
        text = scaled_policy(scenario.policy_toml)
        group = groups.setdefault(text, Group(len(groups), text, []))
        group.scenarios.append((f"s{index:03d}-", scenario))
    print(f"policies (one worker each): {len(groups)}")

    for group in groups.values():
        group.env = worker_env(partitions=2, held_timeout_s=3.0)
        group.env.create_topics()
        group.policy_path = group.env.data_root / "policy.toml"
        group.policy_path.write_text(group.policy_text, encoding="utf-8")
        group.worker = Worker(group.env, group.policy_path, name=f"g{group.number}")

    procs = [g.worker for g in groups.values() if g.worker is not None]
    started = time.monotonic()
    with workers(*procs):
        for proc in procs:
            proc.start()
        for group in groups.values():
            assert group.env is not None and group.worker is not None
            wait_group_stable(group.env.bootstrap, group.env.app_id, 1, 90, group.worker)
            group.log = OutputLog(group.env)

        print(f"{len(procs)} workers ready in {time.monotonic() - started:.1f}s")
        t0 = now_us() + 1_000_000
        far = t0 + 86_400 * 1_000_000
        for group in groups.values():
            assert group.policy_path is not None
            for ns, scenario in group.scenarios:
                group.events += scaled_events(scenario, ns, t0)
            # The last instant anything is due (+ grace): replay far ahead knows it.
            ahead = replay(group.events, group.policy_path, far, tmp_path / f"g{group.number}")
            grace_us = round(parse_policy(group.policy_text).grace_seconds * 1_000_000)
            last_event = max((parse_iso(e["occurred_at"]) for e in group.events), default=t0)
            group.not_before_us = max(last_instant(ahead) + grace_us, last_event) + 1_000_000

        stop = threading.Event()
        feeders = []
        errors: list[BaseException] = []

        def feed(group: Group) -> None:
            assert group.env is not None
            try:
                with Feed(group.env) as producer:
                    producer.send_on_time(group.events, stop)
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)

        for group in groups.values():
            thread = threading.Thread(target=feed, args=(group,), daemon=True)
            thread.start()
            feeders.append(thread)
        try:
            # Every worker quiet for QUIET_S after its last deadline: that moment is T.
            not_before = max(g.not_before_us for g in groups.values())
            deadline = time.monotonic() + (not_before - now_us()) / 1e6 + 90
            logs = [g.log for g in groups.values() if g.log is not None]
            while True:
                for log in logs:
                    log.poll(0.05)
                quiet = min(time.monotonic() - log.last_new for log in logs)
                if now_us() >= not_before and quiet >= QUIET_S:
                    compare_at = now_us()
                    break
                assert time.monotonic() < deadline, "the workers never went quiet"
                for proc in procs:
                    assert proc.alive, f"worker {proc.name} died:\n{proc.log_text()}"
        finally:
            stop.set()
            for thread in feeders:
                thread.join(timeout=30)
        assert not errors, errors
        print(f"quiet at {iso(compare_at)}, {time.monotonic() - started:.1f}s after the start")

        failures = []
        for group in groups.values():
            assert group.log is not None and group.policy_path is not None
            want = replay(group.events, group.policy_path, compare_at, tmp_path / "cmp")
            diffs = compare(group.log.records, want)
            diffs += missing_ce_headers(group.log.records)[:5]
            if diffs:
                names = {ns: s.test_id for ns, s in group.scenarios}
                involved = sorted(
                    {names[ns] for d in diffs for ns in re.findall(r"\bs\d{3}-", d) if ns in names}
                )
                failures.append(
                    f"policy group {group.number} ({len(group.scenarios)} scenarios, "
                    f"{len(group.events)} events, compared at {iso(compare_at)}):\n  "
                    + "\n  ".join(diffs)
                    + "\n  scenarios: "
                    + ", ".join(involved[:20])
                    + f"\n  policy:\n{group.policy_text}"
                )
            group.log.close()
        assert not failures, "\n\n".join(failures)
