"""A blocking HTTP client for answers sent from handler threads: one kept-alive connection per
thread and host, a socket whose responses httptools (llhttp, in C) parses.

A handler worker sends an answer on the thread that ran its handler (`bot/handling.py`), so the
answer takes no trip through the event loop. aiohttp's client and the loop iterations it takes
were a sixth of a chat command's CPU (`python -m bench.chat_profile --profile`); on a kept-alive
connection one POST cost ~120 µs of CPU with `http.client`, ~250 µs with aiohttp, ~300 µs with
urllib3 and ~500 µs with httpx's client (measured 2026-12-05). Of `http.client`'s, most went to
reading the response's headers with the email package's parser; a request written in one
`sendall` and a response parsed by httptools cost ~40 µs (measured 2026-12-05). Threads do not
share connections, so nothing here locks.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import quote, urlsplit

import httptools

_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
"""What a kept-alive connection the server closed meanwhile raises: tried once more on a new
connection (slack_sdk's `ConnectionErrorRetryHandler` does the same)."""


_SAFE = "/%:@!$&'()*+,;=~"
"""What stays as it is in a URL's path and query: RFC 3986's delimiters, and `%` so that what is
escaped already is not escaped twice."""

_NOT_IN_HEADERS = re.compile(r"[\x00-\x20\x7f]")
"""What a host name may not carry into the request line's headers (`http.client` refuses the
same: a CR/LF would start a header of the URL's choosing)."""

_LINE_BREAK = re.compile(r"[\r\n]")
_RECEIVE_BYTES = 65536


@dataclass(frozen=True)
class Response:
    status: int
    body: str
    headers: dict[str, str]
    """As the server spelled the names; a repeated header keeps its last value."""


class ThreadConnections:
    """POSTs on a kept-alive connection per calling thread and (scheme, host, port)."""

    def __init__(self, *, timeout: float, tls: ssl.SSLContext | None = None) -> None:
        """`tls`: the context of HTTPS connections (default: the system's CA store)."""
        self.timeout = timeout
        if tls is not None:
            self._tls = tls
        self._local = threading.local()
        self._opened: list[_Connection] = []
        self._lock = threading.Lock()
        """Guards `_opened`, which `close` walks from another thread."""

    @cached_property
    def _tls(self) -> ssl.SSLContext:
        """One context for every HTTPS connection: building one loads the CA store."""
        return ssl.create_default_context()

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Response:
        """POST `body`; raises OSError (timeouts included) or http.client.HTTPException."""
        parts = urlsplit(url)
        # Quoted as aiohttp (yarl) sends it: a space, for one, cannot go on the request line.
        path = quote(parts.path or "/", safe=_SAFE)
        if parts.query:
            path += "?" + quote(parts.query, safe=_SAFE + "?")
        connection = self._connection(parts.scheme, parts.hostname or "", parts.port)
        request = connection.request(path, body, headers)
        reused = connection.sock is not None
        try:
            return connection.exchange(request)
        except _STALE:
            if not reused:
                raise
            connection.close()  # the next exchange opens a new connection
            return connection.exchange(request)
        except BaseException:
            connection.close()  # half a response read: never reuse it
            raise

    def _connection(self, scheme: str, host: str, port: int | None) -> _Connection:
        """This thread's connection to the host."""
        connections: dict[tuple[str, str, int | None], _Connection]
        connections = self._local.__dict__.setdefault("connections", {})
        key = (scheme, host, port)
        connection = connections.get(key)
        if connection is not None:
            return connection
        if scheme == "https":
            connection = _Connection(host, port or 443, self.timeout, self._tls)
        elif scheme == "http":
            connection = _Connection(host, port or 80, self.timeout, None)
        else:
            raise http.client.InvalidURL(f"not an HTTP URL: {scheme}")
        connections[key] = connection
        with self._lock:
            self._opened.append(connection)
        return connection

    def close(self) -> None:
        """Close every connection; a later `post` opens new ones."""
        with self._lock:
            for connection in self._opened:
                connection.close()


class _Connection:
    """One kept-alive HTTP/1.1 connection; also the callbacks httptools calls while it parses a
    response (https://github.com/MagicStack/httptools#apis)."""

    def __init__(self, host: str, port: int, timeout: float, tls: ssl.SSLContext | None) -> None:
        if _NOT_IN_HEADERS.search(host):
            raise http.client.InvalidURL(f"URL can't contain control characters: {host!r}")
        self.host, self.port, self.timeout, self.tls = host, port, timeout, tls
        # The Host header as `http.client` writes it: the port only when not the default one.
        name = f"[{host}]" if ":" in host else host
        if port != (443 if tls else 80):
            name = f"{name}:{port}"
        try:
            self._preamble = f"\r\nHost: {name}".encode("ascii")
        except UnicodeEncodeError:
            self._preamble = b"\r\nHost: " + name.encode("idna")
        self._preamble += b"\r\nAccept-Encoding: identity\r\nContent-Length: "
        self.sock: socket.socket | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._head = False
        """The status line and headers are read."""
        self._response: Response | None = None
        self._keep_alive = False
        self._trailing = False

    def request(self, path: str, body: bytes, headers: Mapping[str, str]) -> bytes:
        """The request's bytes, written in one `sendall` (no Nagle delay between headers and
        body). `headers`: besides Host, Accept-Encoding and Content-Length, written here."""
        lines = "".join(f"\r\n{name}: {value}" for name, value in headers.items())
        if any(_LINE_BREAK.search(f"{name}{value}") for name, value in headers.items()):
            raise ValueError(f"a header with a line break: {lines!r}")
        return b"".join(
            (
                b"POST ",
                path.encode("ascii"),
                b" HTTP/1.1",
                self._preamble,
                str(len(body)).encode("ascii"),
                lines.encode("latin-1"),
                b"\r\n\r\n",
                body,
            )
        )

    def exchange(self, request: bytes) -> Response:
        """Send `request` and read its response, opening the connection first when closed; closes
        it after the response when the server asks to (`Connection: close`, HTTP/1.0, a body
        that ends with the connection)."""
        sock = self.sock or self._open()
        parser = self._parser
        assert parser is not None
        self._headers, self._body, self._head, self._response = {}, [], False, None
        sock.sendall(request)
        received = False
        while self._response is None:
            data = sock.recv(_RECEIVE_BYTES)
            if not data:
                return self._ended(received)
            received = True
            try:
                parser.feed_data(data)
            except httptools.HttpParserError as error:
                raise http.client.HTTPException(f"malformed response: {error}") from error
        if self._trailing or not self._keep_alive:
            self.close()
        return self._response

    def _ended(self, received: bool) -> Response:
        """The server closed the connection before the response was complete: the response, if
        its body was the rest of the connection (neither Content-Length nor chunked)."""
        parser = self._parser
        self.close()
        if not received:
            # A kept-alive connection the server closed meanwhile, as `http.client` says it.
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        framed = {name.lower() for name in self._headers} & {"content-length", "transfer-encoding"}
        if parser is None or not self._head or framed:
            raise http.client.IncompleteRead(b"".join(self._body))
        return self._parsed(parser)

    def _parsed(self, parser: httptools.HttpResponseParser) -> Response:
        return Response(
            status=parser.get_status_code(),
            body=b"".join(self._body).decode("utf-8", "replace"),
            headers=self._headers,
        )

    def _open(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self._parser = httptools.HttpResponseParser(self)
        self._trailing = False
        return sock

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()

    # -- httptools' callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        # Bytes after a complete response: nothing asked for them, so the connection is not
        # to be trusted with the next request.
        self._trailing = self._response is not None

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1")] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._head = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._parser is not None
        if self._response is not None:
            return  # the end of bytes nothing asked for
        if self._parser.get_status_code() >= 200:
            self._response = self._parsed(self._parser)
            # Asked here: llhttp forgets the message's Connection header once it is over.
            self._keep_alive = self._parser.should_keep_alive()
        else:  # 100 Continue and the like: the answer follows
            self._headers, self._body, self._head = {}, [], False
