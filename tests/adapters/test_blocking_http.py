"""`adapters.blocking_http` against a loopback server that answers each request with the bytes a
test scripts: framing (Content-Length, chunked, the end of the connection), keep-alive and what
ends it, a stale connection, half a response, TLS."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.blocking_http import ThreadConnections

JSON = {"Content-Type": "application/json;charset=utf-8"}
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


@dataclass(frozen=True)
class Answer:
    raw: bytes = OK
    then: str = "keep"
    """`keep` the connection open, `close` it after `raw`, or `hold` it: answer nothing more."""


class ScriptedServer:
    """Answers the n-th request (over all connections) with `answers[n]`; records the requests
    as they arrived, and how many connections were opened."""

    def __init__(self, answers: list[Answer], tls: ssl.SSLContext | None = None) -> None:
        self.answers = answers
        self.requests: list[bytes] = []
        self.connections = 0
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
                except ssl.SSLError:  # a client that does not trust the certificate
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
                answer = self.answers[len(self.requests)]
                self.requests.append(request)
                sock.sendall(answer.raw)
                if answer.then == "hold":
                    self._held.append(sock)
                    return
                if answer.then == "close":
                    break
        sock.close()


def test_a_chunked_response_is_read_whole_and_its_connection_kept() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Slack-Req: a\r\nX-Slack-Req: b\r\n"
        b"\r\n3\r\n\xe6\x82\xa8\r\n4\r\n ok!\r\n0\r\n\r\n"
    )
    with ScriptedServer([Answer(chunked), Answer()]) as server:
        connections = ThreadConnections(timeout=5)
        first = connections.post(server.url + "/r/1", b"{}", JSON)
        second = connections.post(server.url + "/r/2", b"{}", JSON)
    assert (first.status, first.body) == (200, "您 ok!")
    assert first.headers == {"Transfer-Encoding": "chunked", "X-Slack-Req": "b"}  # the last one
    assert (second.status, second.body, server.connections) == (200, "ok", 1)


def test_the_request_is_written_as_http_client_writes_it() -> None:
    with ScriptedServer([Answer()]) as server:
        ThreadConnections(timeout=5).post(server.url + "/r/a b?x=%2F", b'{"a":1}', JSON)
    port = server.url.rsplit(":", 1)[1]
    assert server.requests == [
        f"POST /r/a%20b?x=%2F HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Accept-Encoding: identity\r\nContent-Length: 7\r\n"
        'Content-Type: application/json;charset=utf-8\r\n\r\n{"a":1}'.encode()
    ]


def test_a_connection_the_server_dropped_meanwhile_is_tried_once_more_on_a_new_one() -> None:
    with ScriptedServer([Answer(then="close"), Answer()]) as server:
        connections = ThreadConnections(timeout=5)
        connections.post(server.url, b"{}", JSON)
        # The server closed it without a word after the first answer: the second POST finds
        # it closed (no response at all), and goes out once more on a new connection.
        assert connections.post(server.url, b"{}", JSON).body == "ok"
    assert server.connections == 2


def test_a_new_connection_closed_without_an_answer_is_not_tried_again() -> None:
    with (
        ScriptedServer([Answer(b"", then="close"), Answer()]) as server,
        pytest.raises(http.client.RemoteDisconnected),
    ):
        ThreadConnections(timeout=5).post(server.url, b"{}", JSON)
    assert (len(server.requests), server.connections) == (1, 1)


def test_connection_close_is_honoured() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    with ScriptedServer([Answer(closing, then="hold"), Answer()]) as server:
        connections = ThreadConnections(timeout=5)
        assert connections.post(server.url, b"{}", JSON).headers["Connection"] == "close"
        # Not sent on the connection the server said it would close (and here keeps silent on).
        assert connections.post(server.url, b"{}", JSON).body == "ok"
    assert server.connections == 2


def test_a_body_that_ends_with_the_connection() -> None:
    until_close = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it"
    with ScriptedServer([Answer(until_close, then="close"), Answer()]) as server:
        connections = ThreadConnections(timeout=5)
        assert connections.post(server.url, b"{}", JSON).body == "all of it"
        assert connections.post(server.url, b"{}", JSON).body == "ok"
    assert server.connections == 2


@pytest.mark.parametrize(
    "half",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Le",
    ],
    ids=["content-length", "chunked", "headers"],
)
def test_half_a_response_is_an_error_and_never_sent_again(half: bytes) -> None:
    with ScriptedServer([Answer(), Answer(half, then="close"), Answer()]) as server:
        connections = ThreadConnections(timeout=5)
        connections.post(server.url, b"{}", JSON)  # a kept-alive connection, so retries apply
        with pytest.raises(http.client.IncompleteRead):
            connections.post(server.url, b"{}", JSON)
        assert len(server.requests) == 2  # the server may have acted on it: not repeated
        assert connections.post(server.url, b"{}", JSON).body == "ok"
    assert server.connections == 2


def test_a_malformed_response_is_an_http_error() -> None:
    with (
        ScriptedServer([Answer(b"SMTP ready\r\n\r\n", then="hold")]) as server,
        pytest.raises(http.client.HTTPException),
    ):
        ThreadConnections(timeout=5).post(server.url, b"{}", JSON)


def test_interim_answers_are_skipped() -> None:
    interim = b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n" + OK
    with ScriptedServer([Answer(interim)]) as server:
        answer = ThreadConnections(timeout=5).post(server.url, b"{}", JSON)
    assert (answer.status, answer.body, "X-Interim" in answer.headers) == (200, "ok", False)


def test_bytes_after_the_answer_retire_the_connection() -> None:
    with ScriptedServer([Answer(OK + b"HTTP/1.1 200 OK\r\n"), Answer()]) as server:
        connections = ThreadConnections(timeout=5)
        assert connections.post(server.url, b"{}", JSON).body == "ok"
        assert connections.post(server.url, b"{}", JSON).body == "ok"
    assert server.connections == 2


def test_a_silent_server_times_out_and_its_connection_is_not_reused() -> None:
    with ScriptedServer([Answer(b"", then="hold"), Answer()]) as server:
        connections = ThreadConnections(timeout=0.05)
        with pytest.raises(TimeoutError):
            connections.post(server.url, b"{}", JSON)
        assert connections.post(server.url, b"{}", JSON).body == "ok"
    assert server.connections == 2


def test_what_cannot_go_on_the_wire_is_refused() -> None:
    connections = ThreadConnections(timeout=5)
    with pytest.raises(http.client.InvalidURL):
        connections.post("ftp://127.0.0.1/r", b"{}", JSON)
    with pytest.raises(http.client.InvalidURL):
        connections.post("http://a b/r", b"{}", JSON)
    with pytest.raises(ValueError, match="line break"):
        connections.post("http://127.0.0.1:9/r", b"{}", {"X-A": "1\r\nX-Injected: 1"})


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A self-signed certificate for 127.0.0.1, its key beside it."""
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
    path = tmp_path_factory.mktemp("tls") / "cert.pem"
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    yield path


def test_https_checks_the_certificate_and_keeps_the_connection(certificate: Path) -> None:
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(certificate)
    trusting = ssl.create_default_context(cafile=certificate)
    with ScriptedServer([Answer(), Answer()], tls=served) as server:
        connections = ThreadConnections(timeout=5, tls=trusting)
        assert connections.post(server.url, b"{}", JSON).body == "ok"
        assert connections.post(server.url, b"{}", JSON).body == "ok"
        assert server.connections == 1
        with pytest.raises(ssl.SSLCertVerificationError):
            ThreadConnections(timeout=5).post(server.url, b"{}", JSON)  # the system's CAs
