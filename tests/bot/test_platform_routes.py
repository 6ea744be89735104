"""The adapters' routes answered straight from ASGI (`bot.platform_routes`), over loopback HTTP.

A chat command's POST never reaches the Starlette app behind (`Fallback` records what does),
and answers as it did there: Slack's url_verification, 401 on a bad signature, 503 with
`Retry-After` for an event the sink refused, 413 over the body cap; every other method, or
another path, is Starlette's as before (405 with `Allow`).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.base import Admission, HttpRequest, HttpResponse, HttpRoute
from adapters.slack.adapter import EVENTS_PATH
from bot.platform_routes import PlatformRoutes, asgi_route
from storage.db import make_engine, upgrade
from tests.fakes.slack import FakeSlack
from tests.support.company import make_app
from tests.support.inbound import RecordingSink, served_app
from tests.support.live import LiveRuntime
from tests.support.slack import (
    command_body,
    fixture,
    form,
    http_adapter,
    interaction_form,
    signed,
)

pytestmark = pytest.mark.anyio

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


class Fallback:
    """The Starlette app behind, recording the (method, path) of each request it gets."""

    def __init__(self, routes: list[Route]) -> None:
        self.app: ASGIApp = Starlette(routes=routes)
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append((scope["method"], scope["path"]))
        await self.app(scope, receive, send)


def _fallback(routes: tuple[HttpRoute, ...]) -> Fallback:
    async def healthz(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Fallback([Route("/healthz", healthz), *(asgi_route(route) for route in routes)])


async def test_slack_requests_are_answered_without_the_starlette_app(
    fake_slack: FakeSlack,
) -> None:
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    behind = _fallback(adapter.routes())
    challenge = json.dumps({"type": "url_verification", "token": "t", "challenge": "c4ll"})
    command = form(command_body(fake_slack, text="coverage", channel_id="D2147483697"))
    async with (
        served_app(PlatformRoutes(adapter.routes(), behind)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        verified = await client.post(
            EVENTS_PATH, content=challenge, headers=signed(challenge, JSON)
        )
        forged = await client.post(
            EVENTS_PATH, content=command, headers=signed(command, FORM, secret="not-the-secret")
        )
        taken = await client.post(EVENTS_PATH, content=command, headers=signed(command, FORM))
        sink.admission = Admission(taken=False, retry_after=60)
        mention = json.dumps(fixture("app_mention"))
        refused = await client.post(EVENTS_PATH, content=mention, headers=signed(mention, JSON))
        assert behind.seen == []  # every answer above came from the fast path
        not_allowed = await client.get(EVENTS_PATH)
        health = await client.get("/healthz")
    await adapter.stop()
    assert (verified.status_code, verified.json()) == (200, {"challenge": "c4ll"})
    assert verified.headers["content-type"] == "application/json"
    assert forged.status_code == 401
    assert (taken.status_code, taken.content) == (200, b"")
    assert taken.headers["content-length"] == "0"
    assert [event.text for event, _ in sink.events] == ["coverage", "arrears"]
    assert (refused.status_code, refused.headers["retry-after"]) == (503, "60")
    assert (not_allowed.status_code, not_allowed.headers["allow"]) == (405, "POST")
    assert health.text == "ok"
    assert behind.seen == [("GET", EVENTS_PATH), ("GET", "/healthz")]


async def test_the_adapter_gets_the_request_as_sent_and_its_answer_goes_back_whole() -> None:
    seen: list[HttpRequest] = []

    async def handler(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        status = 204 if request.query.get("empty") else 202
        return HttpResponse(
            status=status,
            body=b"" if status == 204 else b"<xml/>",
            headers={"Content-Type": "text/xml", "X-Echo": "1"},
        )

    route = HttpRoute(path="/hook", methods=("POST",), handler=handler)
    behind = _fallback((route,))
    async with (
        served_app(PlatformRoutes((route,), behind)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        answer = await client.post(
            "/hook?nonce=1&echostr=&nonce=2",
            content=b"<xml>\xe4\xbd\xa0</xml>",
            headers=[("X-Token", "a"), ("X-Token", "b")],
        )
        empty = await client.post("/hook?empty=1", content=b"")
    assert behind.seen == []
    request = seen[0]
    assert (request.method, request.path, request.body) == (
        "POST",
        "/hook",
        "<xml>你</xml>".encode(),
    )
    assert request.query == {"nonce": "2", "echostr": ""}  # the last of a repeated field
    assert request.headers["x-token"] == "b"  # names in lower case, the last of a repeat
    assert (answer.status_code, answer.content) == (202, b"<xml/>")
    assert answer.headers["content-type"] == "text/xml"
    assert answer.headers["x-echo"] == "1"
    assert answer.headers["content-length"] == "6"
    assert empty.status_code == 204
    assert "content-length" not in empty.headers


async def test_a_body_over_the_cap_is_413_before_the_adapter_sees_it() -> None:
    seen: list[HttpRequest] = []

    async def handler(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return HttpResponse(status=200)

    route = HttpRoute(path="/hook", methods=("POST",), handler=handler)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"x" * 40

    async with (
        served_app(PlatformRoutes((route,), _fallback((route,)), max_body_bytes=100)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        declared = await client.post("/hook", content=b"x" * 101)
        streamed = await client.post("/hook", content=chunks())  # chunked: no Content-Length
        at_cap = await client.post("/hook", content=b"x" * 100)
    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert declared.text == "body larger than 100 bytes ([http] max_body_bytes)"
    assert declared.headers["content-type"] == "text/plain; charset=utf-8"
    assert at_cap.status_code == 200
    assert [request.body for request in seen] == [b"x" * 100]


def test_past_max_backlog_the_running_server_answers_slack_503_with_retry_after(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    """The runtime's own app at `[chat] max_backlog`: Events API (Slack retries it) refused
    with 503 and `Retry-After`; a slash command (not retried) told it is busy in its ack's
    body, which Slack shows to the asker, and nothing posted to its response_url; a click
    (not retried either, and its ack's body is not shown) acked empty, told through its
    response_url."""
    engine = make_engine(f"sqlite:///{tmp_path}/coverwatch.db")
    upgrade(engine)
    with LiveRuntime(make_app(engine), {"slack": http_adapter(fake_slack)}) as live:
        live.runtime.max_backlog = 0
        mention = json.dumps(fixture("app_mention"))
        refused = httpx.post(
            live.url + EVENTS_PATH, content=mention, headers=signed(mention, JSON), timeout=10
        )
        command = form(command_body(fake_slack, text="coverage", channel_id="D2147483697"))
        busy = httpx.post(
            live.url + EVENTS_PATH, content=command, headers=signed(command, FORM), timeout=10
        )
        click = interaction_form(
            fixture("block_actions") | {"response_url": fake_slack.response_url("click")}
        )
        clicked = httpx.post(
            live.url + EVENTS_PATH, content=click, headers=signed(click, FORM), timeout=10
        )
        deadline = time.monotonic() + 10
        while not fake_slack.responses and time.monotonic() < deadline:
            time.sleep(0.01)  # the click's busy answer goes out in a task after the ack
        told = live.runtime.metrics.render({})
    engine.dispose()
    said = "我现在正忙着回答很多问题，请一分钟后再试。"  # the default locale
    assert (refused.status_code, refused.headers["retry-after"]) == (503, "60")
    assert (busy.status_code, busy.headers["content-type"]) == (200, "application/json")
    assert busy.json() == {"response_type": "ephemeral", "text": said}
    assert (clicked.status_code, clicked.content) == (200, b"")
    assert 'coverwatch_inbound_busy_total{platform="slack"} 3' in told  # all three were busy
    [(name, answer)] = fake_slack.responses  # the command's was in its ack: never posted
    assert (name, answer["text"]) == ("click", said)
