"""The projector's liveness and readiness endpoints (``lead-sla project --health-port PORT``).

``/healthz``: 200 while the projector's loop has turned within ``stale_after_s`` (it polls every
half second, so a projector stuck in a database call or a dead loop answers 503). ``/readyz``: 200
once every partition assigned to it has reached the end it had when it was assigned (the read
models are as fresh as the topics were), 503 before that and while it has no partition. The
compose stack's health check and the image's ``HEALTHCHECK`` use them, as they do the worker's.
Standard library only: the projector has no metrics registry.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

STALE_AFTER_S: Final = 120.0


@dataclass(slots=True)
class Health:
    """What the endpoints answer from; the projector's loop updates it."""

    stale_after_s: float = STALE_AFTER_S
    beat: float = field(default_factory=time.monotonic)
    ready: bool = False

    def alive(self) -> bool:
        return time.monotonic() - self.beat <= self.stale_after_s


def serve_health(host: str, port: int, health: Health) -> ThreadingHTTPServer:
    """Serve ``/healthz`` and ``/readyz`` on ``host:port`` in a daemon thread.

    The caller stops it with ``server.shutdown()``; an unusable address raises ``OSError``.
    """
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            if self.path == "/healthz":
                ok, good, bad = health.alive(), b"ok\n", b"stalled\n"
            elif self.path == "/readyz":
                ok, good, bad = health.ready and health.alive(), b"ready\n", b"not ready\n"
            else:
                self._answer(404, b"not found: /healthz, /readyz\n")
                return
            self._answer(200 if ok else 503, good if ok else bad)

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # no line per probe
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        address_family = family

    server = Server((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="lead-sla-health", daemon=True).start()
    return server
