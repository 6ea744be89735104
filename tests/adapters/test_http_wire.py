"""The two answer clients (`adapters.blocking_http` on a handler thread, `adapters.loop_http` on a
worker's loop) against a loopback server that answers each request with the bytes a test
scripts: framing (Content-Length, chunked, the end of the connection), keep-alive and what ends
it, a stale connection, half a response, TLS (`adapters.http_wire`, which both share)."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.blocking_http import ThreadConnections
from tests.support.scripted_http import JSON, OK, Answer, OnLoop, Poster, ScriptedServer

Connect = Callable[..., Poster]


@pytest.fixture(params=["thread", "loop"])
def connect(request: pytest.FixtureRequest) -> Iterator[Connect]:
    """Opens the answer client under test: a handler thread's, or a worker loop's."""
    opened: list[Poster] = []

    def opening(**options: Any) -> Poster:
        client: Poster
        client = ThreadConnections(**options) if request.param == "thread" else OnLoop(**options)
        opened.append(client)
        return client

    yield opening
    for client in opened:
        client.close()


def test_a_chunked_response_is_read_whole_and_its_connection_kept(connect: Connect) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Slack-Req: a\r\nX-Slack-Req: b\r\n"
        b"\r\n3\r\n\xe6\x82\xa8\r\n4\r\n ok!\r\n0\r\n\r\n"
    )
    with ScriptedServer([Answer(chunked), Answer()]) as server:
        connections = connect(timeout=5)
        first = connections.post(server.url + "/r/1", b"{}", JSON)
        second = connections.post(server.url + "/r/2", b"{}", JSON)
    assert (first.status, first.body) == (200, "您 ok!")
    assert first.headers == {"Transfer-Encoding": "chunked", "X-Slack-Req": "b"}  # the last one
    assert (second.status, second.body, server.connections) == (200, "ok", 1)


def test_the_request_is_written_as_http_client_writes_it(connect: Connect) -> None:
    with ScriptedServer([Answer()]) as server:
        connect(timeout=5).post(server.url + "/r/a b?x=%2F", b'{"a":1}', JSON)
    port = server.url.rsplit(":", 1)[1]
    assert server.requests == [
        f"POST /r/a%20b?x=%2F HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Accept-Encoding: identity\r\nContent-Length: 7\r\n"
        'Content-Type: application/json;charset=utf-8\r\n\r\n{"a":1}'.encode()
    ]


def test_a_connection_the_server_dropped_meanwhile_is_tried_once_more_on_a_new_one(
    connect: Connect,
) -> None:
    with ScriptedServer([Answer(then="close"), Answer()]) as server:
        connections = connect(timeout=5)
        connections.post(server.url, b"{}", JSON)
        # The server closed it without a word after the first answer: the second POST finds
        # it closed (no response at all), and goes out once more on a new connection.
        assert connections.post(server.url, b"{}", JSON).body == "ok"
    assert server.connections == 2


def test_a_kept_connection_closed_on_the_request_sends_it_once_more(connect: Connect) -> None:
    with ScriptedServer([Answer(), Answer(b"", then="close"), Answer()]) as server:
        connections = connect(timeout=5)
        connections.post(server.url, b"{}", JSON)
        # Kept alive, then closed without a word when the second request came: nothing of it
        # was answered, so it goes out once more on a new connection.
        assert connections.post(server.url, b"{}", JSON).body == "ok"
    assert (len(server.requests), server.connections) == (3, 2)


def test_a_new_connection_closed_without_an_answer_is_not_tried_again(connect: Connect) -> None:
    with (
        ScriptedServer([Answer(b"", then="close"), Answer()]) as server,
        pytest.raises(http.client.RemoteDisconnected),
    ):
        connect(timeout=5).post(server.url, b"{}", JSON)
    assert (len(server.requests), server.connections) == (1, 1)


def test_connection_close_is_honoured(connect: Connect) -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    with ScriptedServer([Answer(closing, then="hold"), Answer()]) as server:
        connections = connect(timeout=5)
        assert connections.post(server.url, b"{}", JSON).headers["Connection"] == "close"
        # Not sent on the connection the server said it would close (and here keeps silent on).
        assert connections.post(server.url, b"{}", JSON).body == "ok"
    assert server.connections == 2


def test_a_body_that_ends_with_the_connection(connect: Connect) -> None:
    until_close = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it"
    with ScriptedServer([Answer(until_close, then="close"), Answer()]) as server:
        connections = connect(timeout=5)
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
def test_half_a_response_is_an_error_and_never_sent_again(half: bytes, connect: Connect) -> None:
    with ScriptedServer([Answer(), Answer(half, then="close"), Answer()]) as server:
        connections = connect(timeout=5)
        connections.post(server.url, b"{}", JSON)  # a kept-alive connection, so retries apply
        with pytest.raises(http.client.IncompleteRead):
            connections.post(server.url, b"{}", JSON)
        assert len(server.requests) == 2  # the server may have acted on it: not repeated
        assert connections.post(server.url, b"{}", JSON).body == "ok"
    assert server.connections == 2


def test_a_malformed_response_is_an_http_error(connect: Connect) -> None:
    with (
        ScriptedServer([Answer(b"SMTP ready\r\n\r\n", then="hold")]) as server,
        pytest.raises(http.client.HTTPException),
    ):
        connect(timeout=5).post(server.url, b"{}", JSON)


def test_interim_answers_are_skipped(connect: Connect) -> None:
    interim = b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n" + OK
    with ScriptedServer([Answer(interim)]) as server:
        answer = connect(timeout=5).post(server.url, b"{}", JSON)
    assert (answer.status, answer.body, "X-Interim" in answer.headers) == (200, "ok", False)


def test_bytes_after_the_answer_retire_the_connection(connect: Connect) -> None:
    with ScriptedServer([Answer(OK + b"HTTP/1.1 200 OK\r\n"), Answer()]) as server:
        connections = connect(timeout=5)
        assert connections.post(server.url, b"{}", JSON).body == "ok"
        assert connections.post(server.url, b"{}", JSON).body == "ok"
    assert server.connections == 2


def test_a_silent_server_times_out_and_its_connection_is_not_reused(connect: Connect) -> None:
    with ScriptedServer([Answer(b"", then="hold"), Answer()]) as server:
        connections = connect(timeout=0.05)
        with pytest.raises(TimeoutError):
            connections.post(server.url, b"{}", JSON)
        assert connections.post(server.url, b"{}", JSON).body == "ok"
    assert server.connections == 2


def test_what_cannot_go_on_the_wire_is_refused(connect: Connect) -> None:
    connections = connect(timeout=5)
    with pytest.raises(http.client.InvalidURL):
        connections.post("ftp://127.0.0.1/r", b"{}", JSON)
    with pytest.raises(http.client.InvalidURL):
        connections.post("http://a b/r", b"{}", JSON)
    with pytest.raises(ValueError, match="line break"):
        connections.post("http://127.0.0.1:9/r", b"{}", {"X-A": "1\r\nX-Injected: 1"})


def test_https_checks_the_certificate_and_keeps_the_connection(
    certificate: Path, connect: Connect
) -> None:
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(certificate)
    trusting = ssl.create_default_context(cafile=certificate)
    with ScriptedServer([Answer(), Answer()], tls=served) as server:
        connections = connect(timeout=5, tls=trusting)
        assert connections.post(server.url, b"{}", JSON).body == "ok"
        assert connections.post(server.url, b"{}", JSON).body == "ok"
        assert server.connections == 1
        with pytest.raises(ssl.SSLCertVerificationError):
            connect(timeout=5).post(server.url, b"{}", JSON)  # the system's CAs
