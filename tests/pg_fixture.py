"""Read-model test fixtures: one PostgreSQL server per session, a fresh database per test.

``pg_server`` (session) picks ``LEADSLA_TEST_POSTGRES_URL`` when set, else starts a local server
from Debian's binaries (``devtools/pg_local.py``) once and stops it at the end. Without one, a
test that needs it FAILS under ``CI=true`` and is skipped (with the reason) elsewhere.

``pg_url`` gives each test its own database on that server (dropped afterwards); ``db_url`` runs
a test once on SQLite and once on PostgreSQL. ``projection_history(leads)`` is a simulated
history (``lead-sla simulate`` + ``lead-sla replay --out``) cached for the session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # devtools/ is not an installed package
    sys.path.insert(0, str(REPO_ROOT))


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres: needs a real PostgreSQL server (started once per session)"
    )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URL of a PostgreSQL server (its ``postgres`` database) for this test session."""
    env = os.environ.get("LEADSLA_TEST_POSTGRES_URL")
    if env:
        yield env
        return
    from devtools.pg_local import LocalPostgres, PgLocalError

    server = LocalPostgres()
    try:
        url = server.start()
    except (PgLocalError, OSError) as exc:
        message = f"no PostgreSQL server for the read-model tests: {exc}"
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's server; dropped after the test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    base, _, _ = pg_server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on an SQLite file and on a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'read-models.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@dataclass(frozen=True)
class History:
    """A simulated input history, its policy and what ``lead-sla replay --out`` made of it."""

    inputs: Path
    policy: Path
    outputs: Path
    leads: int


def _lead_sla(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "leadsla.cli", *args],
        check=True,
        capture_output=True,
        timeout=300,
        cwd=REPO_ROOT,
    )


@pytest.fixture(scope="session")
def projection_history(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., History]:
    """Factory: ``projection_history(leads, seed=7)`` -> a cached :class:`History`."""
    made: dict[tuple[int, int], History] = {}

    def make(leads: int, seed: int = 7) -> History:
        key = (leads, seed)
        if key not in made:
            folder = tmp_path_factory.mktemp(f"history-{leads}-{seed}")
            inputs, policy, outputs = (
                folder / "inputs.jsonl",
                folder / "policy.toml",
                folder / "outputs.jsonl",
            )
            _lead_sla(
                "simulate",
                "--leads",
                str(leads),
                "--seed",
                str(seed),
                "--out",
                str(inputs),
                "--write-policy",
                str(policy),
            )
            _lead_sla("replay", str(inputs), "--policy", str(policy), "--out", str(outputs))
            made[key] = History(inputs, policy, outputs, leads)
        return made[key]

    return make
