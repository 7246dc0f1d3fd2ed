"""A local PostgreSQL server without Docker: Debian's server binaries, a temp folder, 127.0.0.1.

This module owns one throw-away server: ``initdb`` into a fresh temporary folder (trust
authentication, superuser ``app``), ``pg_ctl start`` on a free port of 127.0.0.1 (its socket in
that folder too), and ``pg_ctl stop -m fast`` plus removing the folder. ``initdb`` refuses to run
as root, so as root the folder belongs to the ``postgres`` system user and every server command
runs through ``runuser -u postgres --`` (see /work/shared/notes/postgres.md).

Command line (from the repository root)::

    python -m devtools.pg_local start  --state-file F [--timeout S]   # prints the URL only
    python -m devtools.pg_local status --state-file F                 # exit 0 when it answers
    python -m devtools.pg_local stop   --state-file F

``start`` prints only ``postgresql://app@127.0.0.1:PORT/postgres`` on standard output, so
``URL=$(python -m devtools.pg_local start --state-file F)`` works; progress goes to standard
error. Python::

    with LocalPostgres() as pg:
        use(pg.url)

The binaries: ``pg_config --bindir`` first, then ``initdb``/``pg_ctl`` on the PATH. Without them,
:class:`PgLocalError` says how to install them (Debian: ``apt-get install postgresql``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

USER = "app"
RUN_DIR_PREFIX = "leadsla-pg-"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


class PgLocalError(RuntimeError):
    """The local server cannot be set up, started or stopped; the message says why."""


def _log(message: str) -> None:
    sys.stderr.write(f"pg_local: {message}\n")
    sys.stderr.flush()


def find_bindir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``."""
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out and (Path(out) / "initdb").exists() and (Path(out) / "pg_ctl").exists():
                return Path(out)
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb).parent
    raise PgLocalError(
        "no PostgreSQL server binaries (initdb, pg_ctl): install Debian's `postgresql` package "
        "(apt-get install -y postgresql) or put them on the PATH"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_server_user() -> list[str]:
    """The prefix that runs a server command as a user initdb accepts."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PgLocalError("running as root but `runuser` is missing (util-linux)")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PgLocalError(
            "running as root and there is no `postgres` system user (the Debian package "
            "creates it): initdb refuses to run as root"
        ) from None
    return [runuser, "-u", "postgres", "--"]


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise PgLocalError(f"timed out after {timeout:.0f}s: {' '.join(cmd)}") from None


def answers(port: int, timeout: int = 3) -> bool:
    """True when the server on ``port`` accepts a connection and answers ``select 1``."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is pinned
        return False
    try:
        with psycopg.connect(
            host="127.0.0.1", port=port, user=USER, dbname="postgres", connect_timeout=timeout
        ) as conn:
            conn.execute("select 1")
    except psycopg.Error:
        return False
    return True


class LocalPostgres:
    """One throw-away server; ``start()`` returns its URL, ``stop()`` removes everything."""

    def __init__(self, state_file: Path | None = None, timeout: float = START_TIMEOUT_S) -> None:
        self.state_file = state_file
        self.timeout = timeout
        self.run_dir: Path | None = None
        self.port: int | None = None
        self.bindir: Path | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise PgLocalError("not started")
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> str:
        self.bindir = find_bindir()
        prefix = _as_server_user()
        self.run_dir = Path(tempfile.mkdtemp(prefix=RUN_DIR_PREFIX))
        data = self.run_dir / "data"
        if prefix:
            pw = pwd.getpwnam("postgres")
            os.chown(self.run_dir, pw.pw_uid, pw.pw_gid)
        try:
            init = _run(
                [
                    *prefix,
                    str(self.bindir / "initdb"),
                    "-D",
                    str(data),
                    "-A",
                    "trust",
                    "-U",
                    USER,
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
                self.timeout,
            )
            if init.returncode != 0:
                raise PgLocalError(f"initdb failed: {init.stderr.strip()[-2000:]}")
            for _attempt in range(3):
                self.port = free_port()
                options = (
                    f"-p {self.port} -k {self.run_dir} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                )
                start = _run(
                    [
                        *prefix,
                        str(self.bindir / "pg_ctl"),
                        "-D",
                        str(data),
                        "-o",
                        options,
                        "-l",
                        str(self.run_dir / "server.log"),
                        "-w",
                        "-t",
                        str(int(self.timeout)),
                        "start",
                    ],
                    self.timeout + 10,
                )
                if start.returncode == 0 and answers(self.port):
                    break
                log = self.run_dir / "server.log"
                tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
                if "could not bind" not in tail and "in use" not in tail:
                    raise PgLocalError(f"pg_ctl start failed: {start.stderr.strip()} {tail}")
            else:
                raise PgLocalError("pg_ctl start failed three times (ports taken)")
        except BaseException:
            self.stop()
            raise
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            self.state_file.write_text(
                json.dumps(
                    {
                        "url": self.url,
                        "port": self.port,
                        "run_dir": str(self.run_dir),
                        "bindir": str(self.bindir),
                    },
                    indent=2,
                ),
                encoding="utf-8",
            )
        _log(f"PostgreSQL up on 127.0.0.1:{self.port} (data in {self.run_dir})")
        return self.url

    def stop(self) -> None:
        if self.run_dir is None:
            return
        stop_server(self.run_dir, self.bindir)
        self.run_dir = None
        if self.state_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.state_file.unlink()


def stop_server(run_dir: Path, bindir: Path | None) -> None:
    """Stop the server whose data is under ``run_dir`` (if it runs) and remove the folder."""
    data = run_dir / "data"
    if (data / "postmaster.pid").exists():
        pg_ctl = (bindir or find_bindir()) / "pg_ctl"
        result = _run(
            [*_as_server_user(), str(pg_ctl), "-D", str(data), "-m", "fast", "-w", "stop"],
            STOP_TIMEOUT_S,
        )
        if result.returncode != 0:
            _log(f"pg_ctl stop: {result.stderr.strip()}")
    shutil.rmtree(run_dir, ignore_errors=True)


def read_state(state_file: Path) -> dict[str, Any] | None:
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise PgLocalError(f"unreadable state file {state_file}: {exc}") from None
    return state if isinstance(state, dict) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.pg_local", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("start", "status", "stop"):
        command = sub.add_parser(name)
        command.add_argument("--state-file", type=Path, required=True)
        if name == "start":
            command.add_argument("--timeout", type=float, default=START_TIMEOUT_S)
    args = parser.parse_args(argv)
    try:
        state = read_state(args.state_file)
        if args.command == "start":
            if state is not None and answers(int(state["port"])):
                _log(f"already running (state file {args.state_file})")
                print(state["url"])
                return 0
            server = LocalPostgres(state_file=args.state_file, timeout=args.timeout)
            print(server.start())
            return 0
        if args.command == "status":
            if state is None:
                print("not running (no state file)")
                return 1
            if answers(int(state["port"])):
                print(f"running: {state['url']} (data in {state['run_dir']})")
                return 0
            print(f"not answering: {state['url']} (data in {state['run_dir']})")
            return 1
        if state is None:
            _log("not running (no state file)")
            return 0
        stop_server(Path(state["run_dir"]), Path(state["bindir"]))
        with contextlib.suppress(FileNotFoundError):
            args.state_file.unlink()
        _log("stopped")
        return 0
    except PgLocalError as exc:
        _log(str(exc))
        return 1


if __name__ == "__main__":
    sys.exit(main())
