"""A loopback HTTP server that answers each request with the bytes a test scripts, and the two
answer clients (`adapters.blocking_http`, `adapters.loop_http`) behind one blocking `post`, so
one test of the wire holds both to it."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.http_wire import Response
from adapters.loop_http import LoopConnections
from bot import loops

JSON = {"Content-Type": "application/json;charset=utf-8"}
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


@dataclass(frozen=True)
class Answer:
    raw: bytes = OK
    then: str = "keep"
    """`keep` the connection open, `close` it after `raw`, or `hold` it: answer nothing more."""
    after: int = 0
    """Sent once this many requests (over all connections) have arrived; if they do not come
    within 5 s, the connection is closed instead."""


class ScriptedServer:
    """Answers the n-th request (over all connections) with `answers[n]`; records the requests
    as they arrived, and how many connections were opened."""

    def __init__(self, answers: list[Answer], tls: ssl.SSLContext | None = None) -> None:
        self.answers = answers
        self.requests: list[bytes] = []
        self.connections = 0
        self._arrived = threading.Condition()
        self._tls = tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._port = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self._port}"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._listener.close()
        for held in self._held:
            held.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return  # closed: the test is over
            if self._tls is not None:
                try:
                    sock = self._tls.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError):  # a client that does not trust the certificate
                    sock.close()
                    continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        with sock.makefile("rb") as stream:
            while line := stream.readline():
                request, length = line, 0
                while (header := stream.readline()) not in (b"\r\n", b""):
                    request += header
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                request += b"\r\n" + stream.read(length)
                with self._arrived:
                    answer = self.answers[len(self.requests)]
                    self.requests.append(request)
                    self._arrived.notify_all()
                    came = self._arrived.wait_for(partial(self._arrived_at_least, answer.after), 5)
                if not came:  # the client waits for this answer before it sends the others
                    break
                sock.sendall(answer.raw)
                if answer.then == "hold":
                    self._held.append(sock)
                    return
                if answer.then == "close":
                    break
        sock.close()

    def _arrived_at_least(self, count: int) -> bool:
        return len(self.requests) >= count


class Poster(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Response: ...

    def close(self) -> None: ...


class OnLoop:
    """`LoopConnections` on an event loop of its own thread (the worker's loop: uvloop where
    installed), each `post` waited for; `start` leaves POSTs in flight together."""

    def __init__(self, **options: Any) -> None:
        self._loop = (loops.event_loop_factory() or asyncio.new_event_loop)()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.connections = LoopConnections(**options)

    def start(self, url: str, body: bytes, headers: Mapping[str, str]) -> Future[Response]:
        async def posted() -> Response:
            return await self.connections.post(url, body, headers)

        return asyncio.run_coroutine_threadsafe(posted(), self._loop)

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Response:
        return self.start(url, body, headers).result(10)

    def close_connections(self) -> None:
        """`LoopConnections.close` on its loop, which goes on running."""

        async def closed() -> None:
            self.connections.close()

        asyncio.run_coroutine_threadsafe(closed(), self._loop).result(10)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self.connections.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


def self_signed(path: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 at `path`, its key beside it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path
