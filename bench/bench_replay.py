"""Replay benchmark (``make bench``; not a test).

Generates a realistic workload with the simulator (``lead-sla simulate``, seed 42, at least
200,000 events by default), writes it to a temporary JSON-lines file, then measures in the same
process, interleaved, ``--repeat`` times each:

* the parse floor: read the file and ``orjson.loads`` every line (what any Python replay pays
  before it does any work);
* the replay end to end: ``leadsla.replay.run_replay(input, policy, out)`` with its outputs
  written to a file.

It prints a markdown table (best and median wall seconds, events/s, replay / parse floor), the
CPU affinity (the process is single-threaded: one core does the work) and the peak RSS; with
``--save`` it also writes the numbers to ``bench/results/replay-<date>.json``.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POLICY = ROOT / "examples" / "simulate-policy.toml"
RESULTS = ROOT / "bench" / "results"
EVENTS_PER_LEAD = 5.3  # what the simulator gives on average (seed 42: 40,000 leads, ~212,500)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, default=200_000, help="workload size in events (default %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    parser.add_argument(
        "--policy",
        default=str(DEFAULT_POLICY),
        help="policy TOML (default: examples/simulate-policy.toml)",
    )
    parser.add_argument(
        "--keep",
        metavar="DIR",
        default=None,
        help="write the workload and the replay output into DIR and keep them",
    )
    parser.add_argument(
        "--parse-only",
        action="store_true",
        help="measure the generator and the parse floor only (no replay)",
    )
    parser.add_argument(
        "--save", action="store_true", help="write the results to bench/results/replay-<date>.json"
    )
    return parser.parse_args(argv)


def load_run_replay() -> Callable[..., Any]:
    try:
        from leadsla.replay import run_replay
    except ImportError as exc:
        raise SystemExit(
            "bench_replay: leadsla.replay.run_replay(input_path, policy_path, out_path, now=None)"
            f" is not available ({exc}).\nUse --parse-only to measure the generator and the "
            "parse floor alone."
        ) from None
    return run_replay


def write_workload(path: Path, events: int, seed: int) -> tuple[int, int, float, float]:
    """The first ``events`` lines of the simulator's output: (events, leads, wall s, CPU s)."""
    from leadsla.domain.instant import parse_rfc3339
    from leadsla.simulate import DEFAULT_START, iter_lines

    leads = int(events / EVENTS_PER_LEAD * 1.05) + 10
    started, cpu = time.perf_counter(), time.process_time()
    lines = itertools.islice(iter_lines(leads, seed, parse_rfc3339(DEFAULT_START)), events)
    count = 0
    with open(path, "wb") as f:
        while chunk := [line.value for line in itertools.islice(lines, 8192)]:
            chunk.append(b"")
            f.write(b"\n".join(chunk))
            count += len(chunk) - 1
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if count < events:
        raise SystemExit(f"bench_replay: the simulator gave only {count} events for {leads} leads")
    return count, leads, seconds, cpu


def parse_floor(path: Path) -> int:
    loads = orjson.loads
    n = 0
    with open(path, "rb") as f:
        for line in f:
            loads(line)
            n += 1
    return n


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds, result) of one call, after a full collection."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def summarise(name: str, walls: list[float], cpus: list[float], events: int) -> dict[str, Any]:
    best = min(walls)
    median = statistics.median(walls)
    return {
        "name": name,
        "runs_wall_seconds": [round(w, 4) for w in walls],
        "runs_cpu_seconds": [round(c, 4) for c in cpus],
        "best_seconds": round(best, 4),
        "median_seconds": round(median, 4),
        "events_per_second_best": round(events / best),
        "events_per_second_median": round(events / median),
    }


def markdown(results: dict[str, Any]) -> str:
    floor = results["measurements"]["parse_floor"]
    rows = [
        "| measurement | best s | median s | best CPU s | events/s (best) | events/s (median) "
        "| x parse floor |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {
        "parse_floor": "parse floor (read + `orjson.loads` per line)",
        "replay": "replay end to end (outputs to a file)",
    }
    for key, m in results["measurements"].items():
        ratio = m["best_seconds"] / floor["best_seconds"]
        rows.append(
            f"| {labels[key]} | {m['best_seconds']:.2f} | {m['median_seconds']:.2f} "
            f"| {min(m['runs_cpu_seconds']):.2f} | {m['events_per_second_best']:,} | {m['events_per_second_median']:,} "
            f"| {ratio:.1f} |"
        )
    w = results["workload"]
    env = results["environment"]
    notes = [
        "",
        f"Workload: `lead-sla simulate --seed {w['seed']}`, first {w['events']:,} events "
        f"({w['leads']:,} leads generated; {w['generate_events_per_second']:,} events/s to "
        f"generate and write, {w['generate_cpu_seconds']:.1f} CPU s), policy `{w['policy']}`.",
        f"Best and median of {results['repeat']} interleaved runs; one process, single-threaded "
        f"(CPU affinity {env['affinity_cpus']} of {env['cpu_count']} CPUs), {env['cpu_model']}, "
        f"Python {env['python']}; peak RSS {results['peak_rss_mib']:.0f} MiB "
        f"(after the parse floor runs: {results['peak_rss_mib_before_replay']:.0f} MiB).",
    ]
    if "replay" in results:
        r = results["replay"]
        notes.append(
            f"Replay: {r['events_read']:,} events read, {r['events_applied']:,} applied, "
            f"{r['outputs_written']:,} outputs written."
        )
    return "\n".join(rows + notes)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.events < 1 or args.repeat < 1:
        raise SystemExit("bench_replay: --events and --repeat must be positive")
    run_replay = None if args.parse_only else load_run_replay()
    if run_replay is not None and not Path(args.policy).is_file():
        raise SystemExit(f"bench_replay: no policy file at {args.policy}")

    with tempfile.TemporaryDirectory(prefix="lead-sla-bench-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        input_path = work / "workload.jsonl"
        out_path = work / "replay-out.jsonl"
        print(
            f"bench_replay: generating {args.events:,} events (seed {args.seed}) ...",
            file=sys.stderr,
        )
        events, leads, gen_seconds, gen_cpu = write_workload(input_path, args.events, args.seed)
        print(
            f"bench_replay: {events:,} events from {leads:,} leads in {gen_seconds:.2f} s "
            f"({input_path.stat().st_size / 2**20:.1f} MiB)",
            file=sys.stderr,
        )

        walls: dict[str, list[float]] = {"parse_floor": [], "replay": []}
        cpus: dict[str, list[float]] = {"parse_floor": [], "replay": []}
        summary: Any = None
        rss_before_replay = 0.0
        for i in range(args.repeat):
            wall, cpu, parsed = timed(parse_floor, input_path)
            assert parsed == events
            walls["parse_floor"].append(wall)
            cpus["parse_floor"].append(cpu)
            print(f"bench_replay: run {i + 1}: parse floor {wall:.2f} s", file=sys.stderr)
            if run_replay is None:
                continue
            rss_before_replay = rss_before_replay or peak_rss_mib()
            wall, cpu, summary = timed(run_replay, str(input_path), args.policy, str(out_path))
            walls["replay"].append(wall)
            cpus["replay"].append(cpu)
            print(f"bench_replay: run {i + 1}: replay {wall:.2f} s", file=sys.stderr)

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "repeat": args.repeat,
        "workload": {
            "seed": args.seed,
            "events": events,
            "leads": leads,
            "generate_seconds": round(gen_seconds, 3),
            "generate_cpu_seconds": round(gen_cpu, 3),
            "generate_events_per_second": round(events / gen_seconds),
            "policy": os.path.relpath(args.policy, ROOT),
        },
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_model": cpu_model(),
            "cpu_count": os.cpu_count(),
            "affinity_cpus": affinity,
        },
        "measurements": {
            name: summarise(name, walls[name], cpus[name], events)
            for name in ("parse_floor", "replay")
            if walls[name]
        },
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "peak_rss_mib_before_replay": round(rss_before_replay or peak_rss_mib(), 1),
    }
    if summary is not None:
        results["replay"] = {
            "events_read": summary.events_read,
            "events_applied": summary.events_applied,
            "outputs_written": summary.outputs_written,
        }
        m = results["measurements"]
        results["replay_over_parse_floor"] = {
            "best": round(m["replay"]["best_seconds"] / m["parse_floor"]["best_seconds"], 2),
            "median": round(m["replay"]["median_seconds"] / m["parse_floor"]["median_seconds"], 2),
        }

    print(markdown(results))
    if args.save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        target = RESULTS / f"replay-{datetime.now(UTC).date().isoformat()}.json"
        target.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"bench_replay: results saved to {os.path.relpath(target, ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
