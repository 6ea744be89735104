"""Helpers of the Slack adapter tests: signed requests, payload fixtures, the HTTP shim, a sink.

Its fixtures (`fake_slack`, `anyio_backend`) live in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.base import HttpRequest, ReplyTarget
from adapters.slack import SlackAdapter
from handlers.types import Action, Message
from tests.fakes.slack import FakeSlack

BOT_TOKEN = "xoxb-1234-5678-coverwatchtest"
APP_TOKEN = "xapp-1-A0001-1234-coverwatchtest"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "slack"


def fixture(name: str) -> dict[str, Any]:
    """A payload captured from Slack's documentation (its `_source` note removed)."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    data.pop("_source")
    return data


def http_adapter(fake: FakeSlack, *, clock: Callable[[], float] = time.time) -> SlackAdapter:
    return SlackAdapter(
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        hr_groups=("C0HR00001",),
        api_base_url=fake.api_url,
        clock=clock,
    )


class RecordingSink:
    """The runtime's stand-in: records what the adapter hands over and returns at once."""

    def __init__(self) -> None:
        self.events: list[tuple[Message | Action, ReplyTarget]] = []

    def __call__(self, event: Message | Action, reply_to: ReplyTarget) -> None:
        self.events.append((event, reply_to))

    async def wait_for(self, count: int = 1, timeout: float = 5.0) -> None:
        await eventually(lambda: len(self.events) >= count, timeout)


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll a condition that another task or the fake's thread will make true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def signed(
    body: str,
    content_type: str,
    *,
    timestamp: int | None = None,
    secret: str = SIGNING_SECRET,
) -> dict[str, str]:
    """Headers Slack sends: `v0=` HMAC-SHA256 of `v0:{ts}:{body}` (slack_sdk's own signer)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    return {
        "content-type": content_type,
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature,
    }


def command_body(fake: FakeSlack, *, text: str, channel_id: str) -> dict[str, Any]:
    """The documented slash command fields, answering to the fake's loopback response_url."""
    return fixture("slash_command") | {
        "text": text,
        "channel_id": channel_id,
        "response_url": fake.response_url("command"),
    }


def form(fields: dict[str, Any]) -> str:
    return urlencode(fields)


def interaction_form(payload: dict[str, Any]) -> str:
    """Interactivity posts the JSON payload in one form field named `payload`."""
    return urlencode({"payload": json.dumps(payload)})


@asynccontextmanager
async def serve(adapter: SlackAdapter) -> AsyncIterator[str]:
    """The ASGI shim `coverwatch run` will mount: POST /slack/events -> `handle_http`."""

    async def slack_events(request: Request) -> Response:
        answer = await adapter.handle_http(
            HttpRequest(
                method=request.method,
                path=request.url.path,
                query=dict(request.query_params),
                headers={name.lower(): value for name, value in request.headers.items()},
                body=await request.body(),
            )
        )
        return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))

    app = Starlette(routes=[Route("/slack/events", slack_events, methods=["GET", "POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: server.started or task.done())
        yield f"http://127.0.0.1:{port}/slack/events"
    finally:
        server.should_exit = True
        await task
        sock.close()
