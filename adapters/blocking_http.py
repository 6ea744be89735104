"""A blocking HTTP client for answers sent from handler threads: one kept-alive connection per
thread and host, a socket whose responses httptools parses (`adapters.http_wire`).

A handler worker sends an answer on the thread that ran its handler (`bot/handling.py`), so the
answer takes no trip through the event loop. aiohttp's client and the loop iterations it takes
were a sixth of a chat command's CPU (`python -m bench.chat_profile --profile`); on a kept-alive
connection one POST cost ~120 µs of CPU with `http.client`, ~250 µs with aiohttp, ~300 µs with
urllib3, ~500 µs with httpx's client and ~40 µs here (measured 2026-12-05). Threads do not
share connections, so nothing here locks.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Mapping

from adapters.http_wire import Origin, Response, ResponseReader, split, tls_for, worth_retrying

_RECEIVE_BYTES = 65536


class ThreadConnections:
    """POSTs on a kept-alive connection per calling thread and origin."""

    def __init__(self, *, timeout: float, tls: ssl.SSLContext | None = None) -> None:
        """`tls`: the context of HTTPS connections (default: the system's CA store)."""
        self.timeout = timeout
        self.tls = tls
        """None: the system's (`tls_for`)."""
        self._local = threading.local()
        self._opened: list[_Connection] = []
        self._lock = threading.Lock()
        """Guards `_opened`, which `close` walks from another thread."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Response:
        """POST `body`; raises OSError (timeouts included) or http.client.HTTPException."""
        origin, path = split(url)
        connection = self._connection(origin)
        request = origin.request(path, body, headers)
        reused = connection.sock is not None
        try:
            return connection.exchange(request)
        except BaseException as error:
            connection.close()  # half a response read: never reuse it
            if not worth_retrying(error, reused=reused, received=connection.reader.received):
                raise
            return connection.exchange(request)  # on a new connection

    def _connection(self, origin: Origin) -> _Connection:
        """This thread's connection to the origin."""
        connections: dict[Origin, _Connection]
        connections = self._local.__dict__.setdefault("connections", {})
        connection = connections.get(origin)
        if connection is not None:
            return connection
        connection = _Connection(origin, self.timeout, tls_for(origin, self.tls))
        connections[origin] = connection
        with self._lock:
            self._opened.append(connection)
        return connection

    def close(self) -> None:
        """Close every connection; a later `post` opens new ones."""
        with self._lock:
            for connection in self._opened:
                connection.close()


class _Connection:
    """One kept-alive HTTP/1.1 connection."""

    def __init__(self, origin: Origin, timeout: float, tls: ssl.SSLContext | None) -> None:
        self.origin, self.timeout, self.tls = origin, timeout, tls
        self.sock: socket.socket | None = None
        self.reader = ResponseReader()

    def exchange(self, request: bytes) -> Response:
        """Send `request` and read its response, opening the connection first when closed; closes
        it after the response when the server asks to (`Connection: close`, HTTP/1.0, a body
        that ends with the connection)."""
        sock = self.sock or self._open()
        reader = self.reader
        reader.expect()
        sock.sendall(request)
        response = None
        while response is None:
            data = sock.recv(_RECEIVE_BYTES)
            if not data:
                self.close()
                return reader.ended()
            response = reader.feed(data)
        if not reader.reusable:
            self.close()
        return response

    def _open(self) -> socket.socket:
        host = self.origin.host
        sock = socket.create_connection((host, self.origin.port), self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.reader = ResponseReader()
        return sock

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()
