"""A local webhook receiver for tests: http.server on 127.0.0.1, records every POST it takes.

``Receiver`` answers 200 (after ``delay_s``), or 503 to the first ``fail_first`` requests, and
keeps each accepted request's ``Idempotency-Key`` and JSON body in arrival order, as a receiver
that drops repeats would see them.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, delay_s: float = 0.0, fail_first: int = 0) -> None:
        self.delay_s = delay_s
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.accepted: list[tuple[str, dict[str, Any]]] = []
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                key = self.headers.get("Idempotency-Key") or ""
                with receiver.lock:
                    refuse = receiver.refused < receiver.fail_first
                    if refuse:
                        receiver.refused += 1
                if refuse:
                    self.send_response(503)
                    self.end_headers()
                    return
                time.sleep(receiver.delay_s)
                with receiver.lock:
                    receiver.accepted.append((key, json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/lead-sla"

    def keys(self) -> list[str]:
        with self.lock:
            return [key for key, _body in self.accepted]

    def bodies(self) -> dict[str, dict[str, Any]]:
        """The body of each Idempotency-Key (the first one, as a deduplicating receiver keeps)."""
        with self.lock:
            first: dict[str, dict[str, Any]] = {}
            for key, body in self.accepted:
                first.setdefault(key, body)
            return first

    def wait_for(self, predicate: Any, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate(self.keys()):
                return True
            time.sleep(0.05)
        return bool(predicate(self.keys()))

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
