"""Webhook adapter against a real loopback receiver: signing, payloads, failure mapping."""

from __future__ import annotations

import hashlib
import hmac
import socket
from collections.abc import Iterator

import httpx
import pytest

from adapters.base import DeliveryError, Receiver, Sender
from adapters.webhook import WebhookAdapter, sign, verify_webhook_signature
from core.locales import ZH_CN
from handlers.types import Button, Card, Field, Recipient, Reply
from tests.fakes.webhook_server import WebhookServer

pytestmark = pytest.mark.anyio

SECRET = "whsec-test"
NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
RECIPIENT = Recipient(platform="webhook", address="hr-ops", is_group=True, employee_id="E7")
REPLY = Reply(
    text="Beijing dues overdue: 12345.60",
    card=Card(
        title="Overdue",
        fields=(Field(label="Account", value="beijing"),),
        buttons=(Button(action="ack", label="Acknowledge", value="12"),),
    ),
)


def clock() -> float:
    return NOW


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    with WebhookServer(SECRET, clock=clock) as running:
        yield running


def adapter_for(
    server: WebhookServer, *, secret: str = SECRET, timeout: float = 5.0
) -> WebhookAdapter:
    return WebhookAdapter(server.url, secret, clock=clock, timeout=timeout)


async def test_send_posts_signed_json_and_returns_receiver_id(server: WebhookServer) -> None:
    adapter = adapter_for(server)
    ref = await adapter.send(RECIPIENT, REPLY, key="alert-12:hr-ops:webhook")
    await adapter.stop()

    assert ref == "wh-1"
    (request,) = server.requests
    assert request.signature_ok
    assert request.path == "/hook"
    assert request.headers["x-coverwatch-timestamp"] == "1700000000"
    assert request.headers["x-coverwatch-idempotency-key"] == "alert-12:hr-ops:webhook"
    assert request.headers["x-coverwatch-signature"] == sign(SECRET, "1700000000", request.body)
    assert request.json() == {
        "event": "message",
        "key": "alert-12:hr-ops:webhook",
        "recipient": {
            "platform": "webhook",
            "address": "hr-ops",
            "is_group": True,
            "employee_id": "E7",
            "locale": ZH_CN,
            "timezone": "Asia/Shanghai",
        },
        "text": "Beijing dues overdue: 12345.60",
        "card": {
            "title": "Overdue",
            "fields": [{"label": "Account", "value": "beijing"}],
            "buttons": [{"action": "ack", "label": "Acknowledge", "value": "12"}],
        },
    }


async def test_receiver_without_an_id_gets_the_key_back(server: WebhookServer) -> None:
    server.answer(204)
    async with httpx.AsyncClient() as client:
        adapter = WebhookAdapter(server.url, SECRET, client=client, clock=clock)
        assert await adapter.send(RECIPIENT, Reply(text="hi"), key="k-1") == "k-1"
    assert server.requests[0].json()["card"] is None


async def test_update_posts_an_update_event_with_a_stable_key(server: WebhookServer) -> None:
    adapter = adapter_for(server)
    await adapter.update("wh-1", Reply(text="Acknowledged by Li"))
    await adapter.update("wh-1", Reply(text="Acknowledged by Li"))
    await adapter.update("wh-1", Reply(text="Resolved"))
    await adapter.stop()

    first, repeat, other = server.requests
    assert first.signature_ok
    assert first.json() == {
        "event": "update",
        "message_ref": "wh-1",
        "text": "Acknowledged by Li",
        "card": None,
    }
    key = "x-coverwatch-idempotency-key"
    assert first.headers[key] == repeat.headers[key] != other.headers[key]


async def test_a_sender_that_receives_nothing() -> None:
    adapter = WebhookAdapter("http://127.0.0.1:9/hook", SECRET, clock=clock)
    assert isinstance(adapter, Sender)
    assert not isinstance(adapter, Receiver)
    await adapter.stop()


async def test_wrong_secret_is_refused_by_the_receiver(server: WebhookServer) -> None:
    adapter = adapter_for(server, secret="not-the-secret")
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(RECIPIENT, REPLY, key="k")
    await adapter.stop()
    assert not server.requests[0].signature_ok
    assert caught.value.permanent
    assert str(caught.value) == "webhook: HTTP 401"


@pytest.mark.parametrize(
    ("status", "retry_after_header", "retry_after"),
    [
        (429, "7", 7.0),
        (429, "Tue, 14 Nov 2023 22:14:20 GMT", 60.0),
        (503, "120", 120.0),
        (429, None, None),
        (429, "soon", None),
        (500, None, None),
        (502, None, None),
    ],
)
async def test_throttling_and_server_errors_are_retryable(
    server: WebhookServer, status: int, retry_after_header: str | None, retry_after: float | None
) -> None:
    headers = {"Retry-After": retry_after_header} if retry_after_header else {}
    server.answer(status, headers=headers)
    adapter = adapter_for(server)
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(RECIPIENT, REPLY, key="k")
    await adapter.stop()
    assert not caught.value.permanent
    assert caught.value.retry_after == retry_after
    assert str(caught.value) == f"webhook: HTTP {status}"
    assert server.url not in str(caught.value)


@pytest.mark.parametrize("status", [400, 404, 410, 413])
async def test_other_client_errors_are_permanent(server: WebhookServer, status: int) -> None:
    server.answer(status, body=b'{"error":"no"}')
    adapter = adapter_for(server)
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(RECIPIENT, REPLY, key="k")
    await adapter.stop()
    assert caught.value.permanent
    assert caught.value.retry_after is None


async def test_timeout_is_retryable(server: WebhookServer) -> None:
    server.hang()
    adapter = adapter_for(server, timeout=0.2)
    with pytest.raises(DeliveryError, match="timed out") as caught:
        await adapter.send(RECIPIENT, REPLY, key="k")
    await adapter.stop()
    assert not caught.value.permanent
    assert len(server.requests) == 1


async def test_connection_refused_is_retryable() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = WebhookAdapter(f"http://127.0.0.1:{port}/hook", SECRET, clock=clock, timeout=2)
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(RECIPIENT, REPLY, key="k")
    await adapter.stop()
    assert not caught.value.permanent
    assert str(port) not in str(caught.value)


def test_signature_verification() -> None:
    body = b'{"text":"hi"}'
    good = sign(SECRET, "1700000000", body)
    # The contract, computed independently: v1=<hex of HMAC-SHA256(secret, ts + "." + body)>.
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert good == f"v1={expected}"
    assert verify_webhook_signature(SECRET, "1700000000", body, good, now=NOW + 300)
    assert not verify_webhook_signature(SECRET, "1700000000", body, good, now=NOW + 301)
    assert not verify_webhook_signature(SECRET, "1700000000", body, good, now=NOW - 301)
    assert not verify_webhook_signature(SECRET, "1700000000", body + b" ", good, now=NOW)
    assert not verify_webhook_signature("other", "1700000000", body, good, now=NOW)
    assert not verify_webhook_signature(SECRET, "1700000001", body, good, now=NOW)
    assert not verify_webhook_signature(SECRET, "soon", body, good, now=NOW)
    assert not verify_webhook_signature(SECRET, "1700000000", body, "v0" + good[2:], now=NOW)
