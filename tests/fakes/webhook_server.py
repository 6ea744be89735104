"""A loopback webhook receiver: real HTTP on 127.0.0.1, a random port, in a thread.

It records every request, checks the signature as a real receiver would (401 when it does not
verify) and can be told to answer the next request with an error or to hang, so adapter tests
exercise real sockets, headers and timeouts instead of mocks.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from adapters.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_webhook_signature

HANG_LIMIT_SECONDS = 30.0
"""A hung request is released by `close()`; this only bounds a test that forgets to."""


@dataclass(frozen=True, kw_only=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes
    signature_ok: bool

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True, kw_only=True)
class _Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    hang: bool = False


class WebhookServer:
    """Use as a context manager; `url` is where to POST."""

    def __init__(self, secret: str, *, clock: Callable[[], float] = time.time) -> None:
        self.secret = secret
        self.requests: list[RecordedRequest] = []
        self._clock = clock
        self._answers: deque[_Answer] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        # A short poll interval keeps `shutdown()` (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def answer(
        self, status: int, *, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> None:
        """Answer the next request (once) with this status instead of the default."""
        with self._lock:
            self._answers.append(_Answer(status=status, headers=headers or {}, body=body))

    def hang(self) -> None:
        """Hold the next request without answering until `close()` (the client times out)."""
        with self._lock:
            self._answers.append(_Answer(status=200, hang=True))

    def __enter__(self) -> WebhookServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> _Answer:
        signature_ok = verify_webhook_signature(
            self.secret,
            headers.get(TIMESTAMP_HEADER.lower(), ""),
            body,
            headers.get(SIGNATURE_HEADER.lower(), ""),
            now=self._clock(),
        )
        with self._lock:
            self.requests.append(
                RecordedRequest(path=path, headers=headers, body=body, signature_ok=signature_ok)
            )
            if not signature_ok:
                return _Answer(status=401, body=b'{"error":"bad signature"}')
            if self._answers:
                return self._answers.popleft()
            reply = {"id": f"wh-{len(self.requests)}"}
            return _Answer(status=200, body=json.dumps(reply).encode())

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                answer = server._record(self.path, headers, body)
                if answer.hang:
                    server._release.wait(HANG_LIMIT_SECONDS)
                    return
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        return Handler
