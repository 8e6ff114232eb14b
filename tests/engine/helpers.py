"""Real loopback receivers for apprise json:// (HTTP) and mailto:// (aiosmtpd)."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    body: dict[str, Any]
    at: float
    wall: float = 0.0


@dataclass
class HttpReceiver:
    """Records every POST; `fail(path, n)` answers 503 to the next n posts on that path."""

    messages: list[Received] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    left = receiver.failures.get(self.path, 0)
                    if left:
                        receiver.failures[self.path] = left - 1
                        code = 503
                    else:
                        code = receiver.statuses.get(self.path, 200)
                        if code == 200:
                            receiver.messages.append(Received(self.path, json.loads(raw or b"{}"), time.monotonic(),
                                                                   time.time()))
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def fail(self, path: str, times: int) -> None:
        self.failures["/" + path.lstrip("/")] = times

    def to(self, path: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if m.path == "/" + path.lstrip("/")]

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class SmtpReceiver:
    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[dict[str, Any]] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                outer.messages.append({"to": list(envelope.rcpt_tos),
                                       "data": envelope.content.decode("utf8", "replace"),
                                       "at": time.monotonic()})
                return "250 OK"

        from tests.servers import free_port

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def url(self, to: str) -> str:
        return f"mailto://127.0.0.1:{self.port}?smtp=127.0.0.1&from=crisis@example.test&to={to}"

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def receivers() -> Iterator[tuple[HttpReceiver, SmtpReceiver]]:
    http, smtp = HttpReceiver().start(), SmtpReceiver().start()
    yield http, smtp
    http.stop()
    smtp.stop()
