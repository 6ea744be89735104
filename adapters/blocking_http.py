"""A blocking HTTP client for answers sent from handler threads: one kept-alive connection per
thread and host, on the standard library's `http.client`.

A handler worker sends an answer on the thread that ran its handler (`bot/handling.py`), so the
answer takes no trip through the event loop. aiohttp's client and the loop iterations it takes
were a sixth of a chat command's CPU (`python -m bench.chat_profile --profile`); on a kept-alive
connection one POST costs ~120 µs of CPU with `http.client`, ~250 µs with aiohttp, ~300 µs with
urllib3 and ~500 µs with httpx's client (measured 2026-12-05). Threads do not share
connections, so nothing here locks.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import quote, urlsplit

_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
"""What a kept-alive connection the server closed meanwhile raises: tried once more on a new
connection (slack_sdk's `ConnectionErrorRetryHandler` does the same)."""


_SAFE = "/%:@!$&'()*+,;=~"
"""What stays as it is in a URL's path and query: RFC 3986's delimiters, and `%` so that what is
escaped already is not escaped twice."""


@dataclass(frozen=True)
class Response:
    status: int
    body: str
    headers: dict[str, str]


class ThreadConnections:
    """POSTs on a kept-alive connection per calling thread and (scheme, host, port)."""

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        """Guards `_opened`, which `close` walks from another thread."""

    @cached_property
    def _tls(self) -> ssl.SSLContext:
        """One context for every HTTPS connection: building one loads the CA store."""
        return ssl.create_default_context()

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Response:
        """POST `body`; raises OSError (timeouts included) or http.client.HTTPException."""
        parts = urlsplit(url)
        # Quoted as aiohttp (yarl) sends it: http.client refuses a space, for one.
        path = quote(parts.path or "/", safe=_SAFE)
        if parts.query:
            path += "?" + quote(parts.query, safe=_SAFE + "?")
        connection, reused = self._connection(parts.scheme, parts.hostname or "", parts.port)
        try:
            return _exchange(connection, path, body, headers)
        except _STALE:
            if not reused:
                raise
            connection.close()  # the next request opens a new connection
            return _exchange(connection, path, body, headers)
        except BaseException:
            connection.close()  # half a response read: never reuse it
            raise

    def _connection(
        self, scheme: str, host: str, port: int | None
    ) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection to the host, and whether it has carried a request before."""
        connections: dict[tuple[str, str, int | None], http.client.HTTPConnection]
        connections = self._local.__dict__.setdefault("connections", {})
        key = (scheme, host, port)
        connection = connections.get(key)
        if connection is not None:
            return connection, connection.sock is not None
        if scheme == "https":
            connection = http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=self._tls
            )
        elif scheme == "http":
            connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
        else:
            raise http.client.InvalidURL(f"not an HTTP URL: {scheme}")
        connections[key] = connection
        with self._lock:
            self._opened.append(connection)
        return connection, False

    def close(self) -> None:
        """Close every connection; a later `post` opens new ones (`http.client` reconnects a
        closed connection by itself)."""
        with self._lock:
            for connection in self._opened:
                connection.close()


def _exchange(
    connection: http.client.HTTPConnection, path: str, body: bytes, headers: Mapping[str, str]
) -> Response:
    connection.request("POST", path, body=body, headers=dict(headers))
    with connection.getresponse() as response:
        text = response.read().decode("utf-8", "replace")
        return Response(status=response.status, body=text, headers=dict(response.getheaders()))
