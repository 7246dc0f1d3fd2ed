"""`lead-sla erase --db`: the read-model part of erasure on request, on SQLite read models
projected from `lead-sla replay` of the sample leads (no broker)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from leadsla.cli import main
from leadsla.erase import EraseError, erase_read_models

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ERASED = "L-1004"  # breached, escalated twice, an ownership gap: rows in many tables


def _rows_by_lead(db: Path) -> dict[str, dict[str, int]]:
    """table -> lead_id -> rows, for every table with a lead_id column."""
    counts: dict[str, dict[str, int]] = {}
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            if "lead_id" in columns:
                rows = conn.execute(f"SELECT lead_id, COUNT(*) FROM {table} GROUP BY lead_id")
                counts[table] = {str(lead): int(n) for lead, n in rows}
    return counts


@pytest.fixture
def read_models(tmp_path: Path) -> Path:
    outputs, db = tmp_path / "outputs.jsonl", tmp_path / "rm.db"
    policy = str(EXAMPLES / "policy.toml")
    replay = ["replay", str(EXAMPLES / "sample-leads.jsonl"), "--policy", policy]
    assert main([*replay, "--now", "2026-03-03T12:00:00Z", "--out", str(outputs)]) == 0
    assert (
        main(["project", "--input", str(outputs), "--db", f"sqlite:///{db}", "--policy", policy])
        == 0
    )
    return db


def test_erase_deletes_every_row_of_the_lead_and_nothing_else(read_models: Path) -> None:
    # Given read models with rows for the lead in several tables
    before = _rows_by_lead(read_models)
    mine = {table: leads[ERASED] for table, leads in before.items() if ERASED in leads}
    assert {"lead_facts", "alerts", "tasks"} <= set(mine)

    # When the lead is erased from them
    deleted = erase_read_models(f"sqlite:///{read_models}", [ERASED])

    # Then every row of it is gone, counted per table, and every other lead's rows remain
    assert deleted == mine
    after = _rows_by_lead(read_models)
    assert all(ERASED not in leads for leads in after.values())
    for table, leads in before.items():
        assert after[table] == {lead: n for lead, n in leads.items() if lead != ERASED}
    # and erasing again finds nothing
    assert erase_read_models(f"sqlite:///{read_models}", [ERASED]) == {}


def test_a_missing_database_or_one_without_read_models_is_refused(tmp_path: Path) -> None:
    # Given no database file, and a file that holds no read models
    missing = tmp_path / "missing.db"
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()

    # When the leads are erased from them
    for db in (missing, empty):
        with pytest.raises(EraseError) as raised:
            erase_read_models(f"sqlite:///{db}", [ERASED])
        # Then the command would stop with exit 2 and say why
        assert raised.value.code == 2
    # and no empty database was created on the way
    assert not missing.exists()
