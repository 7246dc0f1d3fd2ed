"""Projection benchmark (``make bench``; not a test): facts per second into SQLite and PostgreSQL.

Generates a realistic history (``lead-sla simulate`` + ``lead-sla replay --out``, seed 42, at
least ``--facts`` ``sla.measured`` facts, 200,000 by default), keeps its facts in a JSON-lines
file, then measures in the same run, for each database, ``--repeat`` times, interleaved:

* ``project``: the projector end to end (read the file, decode every line, build the rows,
  upsert them by lead with the version check, store the file position in the same
  transactions), exactly what ``lead-sla project --input FACTS --db URL`` does;
* ``bulk insert``: the baseline, a plain ``executemany`` INSERT of the same rows (already built,
  so no JSON decoding is counted) into a table with the same columns and no key, in ONE
  transaction.

It prints a markdown table (best wall seconds, facts/s, project / bulk insert). PostgreSQL is a
throw-away local server (``devtools/pg_local.py``) unless ``--pg-url`` names one; with
``--save`` the numbers also go to ``bench/results/projection-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from leadsla.projections.project import Projector, prepare, project_file  # noqa: E402
from leadsla.projections.schema import FACT_COLUMNS, table_ddl  # noqa: E402
from leadsla.projections.store import Batch, Store  # noqa: E402

RESULTS = ROOT / "bench" / "results"
FACTS_PER_LEAD = 3.15  # what the simulator + replay give on average (seed 42)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--facts", type=int, default=200_000, help="at least this many facts")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--pg-url", help="an existing PostgreSQL server (default: start one)")
    parser.add_argument("--keep", metavar="DIR", help="keep the history in DIR")
    parser.add_argument("--save", action="store_true", help="write bench/results/*.json")
    return parser.parse_args(argv)


def make_history(folder: Path, facts: int, seed: int) -> tuple[Path, Path, int]:
    leads = int(facts / FACTS_PER_LEAD * 1.05) + 1
    inputs, policy, outputs = folder / "in.jsonl", folder / "policy.toml", folder / "out.jsonl"
    cli = [sys.executable, "-m", "leadsla.cli"]
    while True:
        subprocess.run(
            [*cli, "simulate", "--leads", str(leads), "--seed", str(seed), "--out", str(inputs),
             "--write-policy", str(policy)],
            check=True, capture_output=True, cwd=ROOT,
        )  # fmt: skip
        subprocess.run(
            [*cli, "replay", str(inputs), "--policy", str(policy), "--out", str(outputs)],
            check=True, capture_output=True, cwd=ROOT,
        )  # fmt: skip
        facts_file = folder / "facts.jsonl"
        count = 0
        with outputs.open("rb") as source, facts_file.open("wb") as sink:
            for line in source:
                if b'"type":"sla.measured"' in line:
                    sink.write(line)
                    count += 1
        if count >= facts:
            return facts_file, policy, count
        leads = int(leads * facts / count * 1.02) + 1


def fresh_db(kind: str, folder: Path, pg_server: str | None) -> tuple[str, Callable[[], None]]:
    if kind == "sqlite":
        path = folder / f"bench-{uuid.uuid4().hex[:8]}.db"

        def remove() -> None:
            for leftover in folder.glob(path.name + "*"):
                leftover.unlink(missing_ok=True)

        return f"sqlite:///{path}", remove
    import psycopg

    assert pg_server is not None
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")

    def drop() -> None:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    return f"{pg_server.rpartition('/')[0]}/{name}", drop


def run_project(url: str, facts_file: Path, zone: str) -> float:
    with Store(url) as store:
        prepare(store, zone, rebuild=True)
        projector = Projector(store, ZoneInfo(zone))
        start = time.perf_counter()
        project_file(store, projector, facts_file)
        elapsed = time.perf_counter() - start
    return elapsed


def run_bulk(url: str, facts_file: Path, zone: str) -> float:
    with Store(url) as store:
        projector = Projector(store, ZoneInfo(zone))
        rows: list[tuple[Any, ...]] = []
        with facts_file.open("rb") as source:
            for line in source:
                batch = Batch()
                projector.add(batch, orjson.loads(line))
                rows.extend(batch.facts.values())
        ddl = next(s for s in table_ddl(store.dialect) if s.startswith("CREATE TABLE lead_facts"))
        ddl = ddl.replace("lead_facts", "bulk_facts").replace(
            "lead_id TEXT PRIMARY KEY", "lead_id TEXT"
        )
        with store.transaction() as cur:
            store.execute(cur, "DROP TABLE IF EXISTS bulk_facts")
            store.execute(cur, ddl)
        statement = (
            f"INSERT INTO bulk_facts ({', '.join(FACT_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in FACT_COLUMNS)})"
        )
        start = time.perf_counter()
        with store.transaction() as cur:
            store.executemany(cur, statement, rows)
        elapsed = time.perf_counter() - start
        (count,) = store.query("SELECT COUNT(*) AS n FROM bulk_facts")
        assert int(count["n"]) == len(rows)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from leadsla.policy_file import load_policy

    server = None
    with tempfile.TemporaryDirectory(prefix="bench-projection-") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        facts_file, policy, count = make_history(folder, args.facts, args.seed)
        zone = load_policy(policy).timezone
        print(f"history: {count} facts in {facts_file} ({time.perf_counter() - t0:.1f}s)")
        pg_server = args.pg_url
        if pg_server is None:
            from devtools.pg_local import LocalPostgres

            server = LocalPostgres()
            pg_server = server.start()
        try:
            results: dict[str, dict[str, list[float]]] = {}
            for kind in ("sqlite", "postgresql"):
                results[kind] = {"project": [], "bulk insert": []}
                for _ in range(args.repeat):
                    for what, fn in (("project", run_project), ("bulk insert", run_bulk)):
                        url, drop = fresh_db(kind, folder, pg_server)
                        try:
                            results[kind][what].append(fn(url, facts_file, zone))
                        finally:
                            drop()
        finally:
            if server is not None:
                server.stop()
    print()
    print(f"{count} facts, best of {args.repeat} runs each")
    print()
    print("| database | what | best s | facts/s | project / bulk insert |")
    print("|---|---|---:|---:|---:|")
    summary: dict[str, Any] = {"facts": count, "repeat": args.repeat, "results": {}}
    for kind, measured in results.items():
        bulk = count / min(measured["bulk insert"])
        for what in ("bulk insert", "project"):
            best = min(measured[what])
            rate = count / best
            ratio = f"{rate / bulk:.2f}" if what == "project" else "1.00"
            print(f"| {kind} | {what} | {best:.2f} | {rate:,.0f} | {ratio} |")
            summary["results"][f"{kind} {what}"] = {"best_s": best, "facts_per_s": rate}
    if args.save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        (RESULTS / f"projection-{stamp}.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
