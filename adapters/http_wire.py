"""HTTP/1.1 POSTs on the wire, for the answer clients of `adapters.blocking_http` (a socket per
handler thread) and `adapters.loop_http` (asyncio protocols on a worker's event loop): where a
URL's request goes, the request's bytes, the response read by httptools (llhttp, in C), and
which failure of a kept-alive connection is worth one more try.

A request written in one `sendall` and a response parsed by httptools cost ~40 µs of CPU per
POST; `http.client` spent most of its ~120 µs reading the headers with the email package's
parser, aiohttp ~250 µs (measured 2026-12-05, docs/PERFORMANCE.md, session 7).
"""

from __future__ import annotations

import http.client
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from urllib.parse import quote, urlsplit

import httptools

STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
"""What a kept-alive connection the server closed meanwhile raises: tried once more on a new
connection (slack_sdk's `ConnectionErrorRetryHandler` does the same)."""

_SAFE = "/%:@!$&'()*+,;=~"
"""What stays as it is in a URL's path and query: RFC 3986's delimiters, and `%` so that what is
escaped already is not escaped twice."""

_NOT_IN_HEADERS = re.compile(r"[\x00-\x20\x7f]")
"""What a host name may not carry into the request line's headers (`http.client` refuses the
same: a CR/LF would start a header of the URL's choosing)."""

_LINE_BREAK = re.compile(r"[\r\n]")


@cache
def system_tls() -> ssl.SSLContext:
    """The context of HTTPS connections no caller configured, one for the process: building
    one loads the system's CA store."""
    return ssl.create_default_context()


def tls_for(origin: Origin, configured: ssl.SSLContext | None) -> ssl.SSLContext | None:
    """A connection's context: none for plain HTTP, else `configured` or the system's."""
    if not origin.tls:
        return None
    return configured or system_tls()


def worth_retrying(error: BaseException, *, reused: bool, received: bool) -> bool:
    """Whether a request that failed so goes out once more, on a new connection: only when the
    connection was kept alive from an earlier exchange and the server closed it without a word
    of a response (on a new connection the server saw the request, and may have acted on it)."""
    return reused and not received and isinstance(error, STALE)


@dataclass(frozen=True)
class Response:
    status: int
    body: str
    headers: dict[str, str]
    """As the server spelled the names; a repeated header keeps its last value."""


@dataclass(frozen=True)
class Origin:
    """Where a request goes: what its connections are kept per."""

    scheme: str
    host: str
    port: int

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @cached_property
    def _preamble(self) -> bytes:
        """The headers after the request line that every request here carries."""
        # The Host header as `http.client` writes it: the port only when not the default one.
        name = f"[{self.host}]" if ":" in self.host else self.host
        if self.port != (443 if self.tls else 80):
            name = f"{name}:{self.port}"
        try:
            preamble = f"\r\nHost: {name}".encode("ascii")
        except UnicodeEncodeError:
            preamble = b"\r\nHost: " + name.encode("idna")
        return preamble + b"\r\nAccept-Encoding: identity\r\nContent-Length: "

    def request(self, path: str, body: bytes, headers: Mapping[str, str]) -> bytes:
        """The request's bytes, written at once (no Nagle delay between headers and body).
        `headers`: besides Host, Accept-Encoding and Content-Length, written here."""
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


def split(url: str) -> tuple[Origin, str]:
    """The origin of `url` and the path (with query) its request line names; raises
    http.client.InvalidURL for what is not an HTTP URL or cannot go on the wire."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise http.client.InvalidURL(f"not an HTTP URL: {parts.scheme}")
    host = parts.hostname or ""
    if _NOT_IN_HEADERS.search(host):
        raise http.client.InvalidURL(f"URL can't contain control characters: {host!r}")
    # Quoted as aiohttp (yarl) sends it: a space, for one, cannot go on the request line.
    path = quote(parts.path or "/", safe=_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_SAFE + "?")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Origin(parts.scheme, host, port), path


class ResponseReader:
    """The responses read off one connection, one exchange after another; also the callbacks
    httptools calls while it parses (https://github.com/MagicStack/httptools#apis)."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._head = False
        """The status line and headers are read."""
        self._response: Response | None = None
        self.received = False
        """Bytes of the current exchange's response came."""
        self._keep_alive = False
        self._trailing = False

    def expect(self) -> None:
        """A request went out: what comes next is its response."""
        self._headers, self._body, self._head, self._response = {}, [], False, None
        self.received = False

    def feed(self, data: bytes) -> Response | None:
        """The response once `data` completes it; raises http.client.HTTPException on a
        malformed one."""
        self.received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            raise http.client.HTTPException(f"malformed response: {error}") from error
        return self._response

    @property
    def reusable(self) -> bool:
        """The connection may carry the next request: the server did not ask to close it
        (`Connection: close`, HTTP/1.0) and sent nothing past the response."""
        return self._keep_alive and not self._trailing

    def ended(self) -> Response:
        """The server closed the connection before the response was complete: the response, if
        its body was the rest of the connection (neither Content-Length nor chunked); raises
        http.client.RemoteDisconnected when nothing came (`worth_retrying`), IncompleteRead for
        half a response."""
        if not self.received:
            # A kept-alive connection the server closed meanwhile, as `http.client` says it.
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        framed = {name.lower() for name in self._headers} & {"content-length", "transfer-encoding"}
        if not self._head or framed:
            raise http.client.IncompleteRead(b"".join(self._body))
        return self._parsed()

    def _parsed(self) -> Response:
        return Response(
            status=self._parser.get_status_code(),
            body=b"".join(self._body).decode("utf-8", "replace"),
            headers=self._headers,
        )

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
        if self._response is not None:
            return  # the end of bytes nothing asked for
        if self._parser.get_status_code() >= 200:
            self._response = self._parsed()
            # Asked here: llhttp forgets the message's Connection header once it is over.
            self._keep_alive = self._parser.should_keep_alive()
        else:  # 100 Continue and the like: the answer follows
            self._headers, self._body, self._head = {}, [], False
