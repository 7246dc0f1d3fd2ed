"""Replay benchmark (``make bench``; not a test).

Two workloads, each written once to a temporary JSON-lines file:

* ``simulate``: ``lead-sla simulate`` (seed 42), business clock in Europe/Berlin, about 1.3
  outputs per input event;
* ``unanswered``: ``bench/workloads.py``, many unanswered leads, calendar clock, 15/60-minute
  targets, about 2.7 outputs per input event.

For each, interleaved, ``--repeat`` times: the parse floor (read the file and ``orjson.loads``
every line, in this process) and ``lead-sla replay`` in a child process with one job and with
every core, with the mypyc-compiled modules of ``make venv`` and with the pure Python ones
(``LEADSLA_PURE=1``), and, with ``--baseline DIR``, an older checkout's replay. Each
replay's wall time, CPU time (the child and its workers) and peak RSS (summed over the child and
its workers, sampled every 100 ms, as proportional set size: forked workers share pages) are
recorded; every run's output must be byte-identical.

It prints a markdown table with medians and the ratio to the parse floor of the same run; with
``--scale`` it also replays growing prefixes (200,000, 1,000,000, 2,000,000 events) once each
and prints their peak RSS (memory must stay flat); ``--save`` writes the numbers to
``bench/results/replay-<date>-<commit>.json``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from workloads import UNANSWERED_POLICY, write_unanswered  # noqa: E402

SIMULATE_POLICY = ROOT / "examples" / "simulate-policy.toml"
RESULTS = ROOT / "bench" / "results"
EVENTS_PER_LEAD = 5.3  # what the simulator gives on average (seed 42)
SAMPLE_SECONDS = 0.1
"""How often a replay's memory is sampled. Reading ``smaps_rollup`` takes about 2 ms for a
400 MiB process and holds its memory map's lock: sampled every 20 ms (before 2026-11-30's fifth
session), the replays of 200,000 events ran 4-10 % slower than sampled every 100 ms
(``--sample-ms``), with the same peaks. A replay's peak lasts far longer than 100 ms."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per workload")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    parser.add_argument(
        "--workload",
        choices=("simulate", "unanswered", "both"),
        default="both",
        help="which workload (default: both)",
    )
    parser.add_argument(
        "--jobs",
        default=None,
        help="comma-separated job counts to measure (default: 1 and every core)",
    )
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        default=None,
        help="also measure the replay of an older checkout (PYTHONPATH=DIR), with each job "
        "count, e.g. `git archive main | tar -x -C DIR` (pure Python), or a copy of a built "
        "checkout's leadsla/ (symlinks followed) and leadsla_native__mypyc*.so (compiled)",
    )
    parser.add_argument(
        "--baseline-label",
        default="before",
        metavar="TEXT",
        help="what the baseline is called in the table (default: before)",
    )
    parser.add_argument(
        "--scale",
        default=None,
        metavar="N,N,...",
        help="also replay these many events of the unanswered workload once each, with every "
        "core, and report peak RSS (e.g. 200000,1000000,2000000)",
    )
    parser.add_argument(
        "--modules",
        choices=("both", "compiled", "pure"),
        default="both",
        help="the mypyc-compiled modules (make venv), the pure Python ones (LEADSLA_PURE=1), or "
        "both (default; only pure when nothing is compiled)",
    )
    parser.add_argument(
        "--sample-ms",
        type=int,
        default=round(SAMPLE_SECONDS * 1000),
        metavar="MS",
        help="how often a replay's memory is sampled (default: %(default)s)",
    )
    parser.add_argument("--keep", metavar="DIR", default=None, help="keep the files in DIR")
    parser.add_argument(
        "--save", action="store_true", help="write bench/results/replay-<date>-<commit>.json"
    )
    return parser.parse_args(argv)


def native_state() -> str:
    """``compiled`` when a child's replay runs the mypyc-compiled modules (leadsla/__init__.py)."""
    import leadsla

    return leadsla.native_state(Path(leadsla.__file__).resolve().parent, {})


def modes(wanted: str) -> list[str]:
    """The replay variants to measure: ``compiled`` only where they are built."""
    if wanted == "pure" or native_state() != "compiled":
        if wanted == "compiled":
            raise SystemExit(f"bench_replay: no compiled modules: {native_state()}")
        return ["pure"]
    return ["compiled"] if wanted == "compiled" else ["compiled", "pure"]


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# --------------------------------------------------------------------------------------------
# Workloads


def write_simulate(path: Path, events: int, seed: int) -> int:
    from leadsla.domain.instant import parse_rfc3339
    from leadsla.simulate import DEFAULT_START, iter_lines

    leads = int(events / EVENTS_PER_LEAD * 1.05) + 10
    lines = itertools.islice(iter_lines(leads, seed, parse_rfc3339(DEFAULT_START)), events)
    count = 0
    with open(path, "wb") as f:
        while chunk := [line.value for line in itertools.islice(lines, 8192)]:
            f.write(b"\n".join(chunk) + b"\n")
            count += len(chunk)
    if count < events:
        raise SystemExit(f"bench_replay: the simulator gave only {count} events for {leads} leads")
    return count


# --------------------------------------------------------------------------------------------
# Measurements


def parse_floor(path: Path) -> int:
    loads = orjson.loads
    n = 0
    with open(path, "rb") as f:
        for line in f:
            loads(line)
            n += 1
    return n


def _memory_kib(pid: int) -> int:
    """A process's proportional set size (shared pages split among their users), else its RSS."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _tree_rss_kib(pid: int) -> int:
    """Memory of a process and all its descendants (KiB): forked workers share pages with their
    parent, so the sum of proportional set sizes, not of resident sizes, is what they take."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            total += _memory_kib(p)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


def run_child(
    argv: list[str], env: dict[str, str] | None = None, every: float = SAMPLE_SECONDS
) -> dict[str, Any]:
    """Run a command; wall and CPU seconds (with its waited-for children), peak tree RSS."""
    # Each run starts with nothing left to write back: the last run's output (hundreds of MiB)
    # would otherwise still be going to disk, and slow the writes of this one.
    os.sync()
    started = time.perf_counter()
    # A neutral working directory: `python -m` puts it first on sys.path, where a checkout's
    # own leadsla/ would shadow the PYTHONPATH of a baseline.
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=tempfile.gettempdir(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kib(proc.pid))
            done.wait(every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"bench_replay: {' '.join(argv)} failed:\n{stderr}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": peak / 1024,
        "max_rss_one_process_mib": usage.ru_maxrss / 1024,
        "stderr": stderr,
    }


def replay_argv(events: Path, policy: Path, out: Path, jobs: int | None) -> list[str]:
    argv = [sys.executable, "-m", "leadsla.cli", "replay", str(events), "--policy", str(policy)]
    argv += ["--out", str(out)]
    if jobs is not None:
        argv += ["--jobs", str(jobs)]
    return argv


def takes_jobs(env: dict[str, str]) -> bool:
    """Whether the replay run with ``env`` takes ``--jobs`` (the replays before issue 8 do not)."""
    found = subprocess.run(
        [sys.executable, "-m", "leadsla.cli", "replay", "--help"],
        env=env,
        cwd=tempfile.gettempdir(),  # as run_child: the checkout's own leadsla/ not on sys.path
        capture_output=True,
        text=True,
        check=True,
    )
    return "--jobs" in found.stdout


def measure_workload(
    name: str,
    events_path: Path,
    policy: Path,
    work: Path,
    args: argparse.Namespace,
    jobs: list[int],
) -> dict[str, Any]:
    variants: list[tuple[str, list[str], dict[str, str] | None]] = []
    for mode in modes(args.modules):
        env = dict(os.environ, LEADSLA_PURE="1") if mode == "pure" else None
        for j in jobs:
            variants.append((f"replay, {j} job{'s' if j > 1 else ''}, {mode}", [str(j)], env))
    if args.baseline:
        older = dict(os.environ, PYTHONPATH=os.path.abspath(args.baseline))
        if takes_jobs(older):
            for j in reversed(jobs):
                label = f"baseline ({args.baseline_label}), {j} job{'s' if j > 1 else ''}"
                variants.insert(0, (label, [str(j)], older))
        else:  # a replay from before issue 8: one process, no --jobs
            variants.insert(0, (f"baseline ({args.baseline_label})", [], older))
    runs: dict[str, list[dict[str, Any]]] = {"parse floor": []}
    digests: set[str] = set()
    outputs = 0
    for i in range(args.repeat):
        gc.collect()
        started, cpu = time.perf_counter(), time.process_time()
        parse_floor(events_path)
        runs["parse floor"].append(
            {"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu}
        )
        for label, job_arg, env in variants:
            out = work / f"out-{name}.jsonl"
            # Each run writes a new file. Replacing the last run's output costs more on ext4 (its
            # auto_da_alloc heuristic starts writing the new file back at the rename: about
            # 0.4 s for 269 MB here), which a replay into a new file does not pay.
            out.unlink(missing_ok=True)
            argv = replay_argv(events_path, policy, out, int(job_arg[0]) if job_arg else None)
            result = run_child(argv, env, args.sample_ms / 1000)
            runs.setdefault(label, []).append(result)
            written = out.read_bytes()
            digests.add(hashlib.sha256(written).hexdigest())
            outputs = written.count(b"\n")
            print(
                f"bench_replay: {name} run {i + 1}: {label} {result['wall']:.2f} s", file=sys.stderr
            )
    if len(digests) != 1:
        raise SystemExit(f"bench_replay: {name}: outputs differ between runs: {sorted(digests)}")
    events = events_path.read_bytes().count(b"\n")
    floor = statistics.median(r["wall"] for r in runs["parse floor"])
    floor_cpu = statistics.median(r["cpu"] for r in runs["parse floor"])
    rows = []
    for label, found in runs.items():
        wall = statistics.median(r["wall"] for r in found)
        cpu = statistics.median(r["cpu"] for r in found)
        rows.append(
            {
                "measurement": label,
                "median_wall_seconds": round(wall, 3),
                "median_cpu_seconds": round(cpu, 3),
                "events_per_second": round(events / wall),
                "x_parse_floor": round(wall / floor, 1),
                # CPU over CPU: what a busy shared machine moves least (wall times swing)
                "x_parse_floor_cpu": round(cpu / floor_cpu, 1),
                "peak_rss_mib": round(statistics.median(r.get("peak_rss_mib", 0.0) for r in found)),
                "runs_wall_seconds": [round(r["wall"], 3) for r in found],
            }
        )
    return {
        "workload": name,
        "events": events,
        "outputs": outputs,
        "outputs_per_event": round(outputs / events, 2),
        "output_sha256": digests.pop(),
        "rows": rows,
    }


def markdown(results: dict[str, Any]) -> str:
    lines = []
    for w in results["workloads"]:
        lines.append(
            f"**{w['workload']}**: {w['events']:,} events, {w['outputs']:,} outputs "
            f"({w['outputs_per_event']} per event)\n"
        )
        lines.append(
            "| measurement | median s | median CPU s | events/s | x parse floor "
            "| x parse floor (CPU) | peak memory MiB |"
        )
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        for r in w["rows"]:
            rss = f"{r['peak_rss_mib']:,}" if r["peak_rss_mib"] else "-"
            lines.append(
                f"| {r['measurement']} | {r['median_wall_seconds']:.2f} "
                f"| {r['median_cpu_seconds']:.2f} | {r['events_per_second']:,} "
                f"| {r['x_parse_floor']:.1f} | {r.get('x_parse_floor_cpu', 0.0):.1f} | {rss} |"
            )
        lines.append("")
    if results.get("scale"):
        lines.append("| events (unanswered workload, every core) | wall s | peak memory MiB |")
        lines.append("|---:|---:|---:|")
        for s in results["scale"]:
            lines.append(f"| {s['events']:,} | {s['wall_seconds']:.1f} | {s['peak_rss_mib']:,} |")
        lines.append("")
    env = results["environment"]
    lines.append(
        f"Medians of {results['repeat']} interleaved runs; {env['cpu_model']}, "
        f"{env['cores']} cores, Python {env['python']}, commit {results['commit']}; "
        f"build: {env.get('modules', '-')} (pure: LEADSLA_PURE=1)."
    )
    return "\n".join(lines)


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.events < 1 or args.repeat < 1:
        raise SystemExit("bench_replay: --events and --repeat must be positive")
    jobs = [int(j) for j in args.jobs.split(",")] if args.jobs else sorted({1, cores()})
    names = ["simulate", "unanswered"] if args.workload == "both" else [args.workload]
    writers: dict[str, Callable[[Path, int, int], object]] = {
        "simulate": write_simulate,
        "unanswered": write_unanswered,
    }
    with tempfile.TemporaryDirectory(prefix="lead-sla-bench-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        unanswered_policy = work / "unanswered-policy.toml"
        unanswered_policy.write_text(UNANSWERED_POLICY)
        policies = {"simulate": SIMULATE_POLICY, "unanswered": unanswered_policy}
        found = []
        for name in names:
            path = work / f"{name}.jsonl"
            print(f"bench_replay: writing {args.events:,} events ({name}) ...", file=sys.stderr)
            writers[name](path, args.events, args.seed)
            found.append(measure_workload(name, path, policies[name], work, args, jobs))
        scale = []
        for size in [int(n) for n in args.scale.split(",")] if args.scale else []:
            path = work / f"scale-{size}.jsonl"
            write_unanswered(path, size, args.seed)
            result = run_child(replay_argv(path, unanswered_policy, work / "scale-out.jsonl", None))
            scale.append(
                {
                    "events": size,
                    "wall_seconds": round(result["wall"], 1),
                    "peak_rss_mib": round(result["peak_rss_mib"]),
                }
            )
            print(f"bench_replay: scale {size:,}: {scale[-1]}", file=sys.stderr)
            path.unlink()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "repeat": args.repeat,
        "environment": {
            "python": platform.python_version(),
            "cpu_model": cpu_model(),
            "cores": cores(),
            "modules": native_state(),
        },
        "workloads": found,
        "scale": scale,
    }
    print(markdown(results))
    if args.save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        target = RESULTS / f"replay-{datetime.now(UTC).date().isoformat()}-{git_commit()}.json"
        target.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"bench_replay: results saved to {os.path.relpath(target, ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
