"""Contract rows for Slack: the Events API over HTTP, and Socket Mode."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import AsyncExitStack
from typing import Any

import httpx

from adapters.base import HttpReceiver
from adapters.slack import SlackAdapter
from handlers.types import Recipient, Reply
from tests.fakes.slack import FakeSlack
from tests.support import slack
from tests.support.contract.row import (
    CLICK,
    HTTP,
    INBOUND,
    REDELIVERY,
    REFUSAL,
    THROTTLE,
    UNEDITABLE,
    Row,
    client_for,
)
from tests.support.inbound import RecordingSink


class SlackHttpRow(Row):
    name = "slack-http"
    capabilities = frozenset({HTTP, INBOUND, REDELIVERY, CLICK, UNEDITABLE, THROTTLE, REFUSAL})
    recipient = Recipient(platform="slack", address="U0CA5")
    message_user = "U2147483697"
    message_event_id = "Ev0PV52K21"
    clicker = "U0CA5"

    @classmethod
    async def opened(cls, stack: AsyncExitStack) -> Row:
        fake = stack.enter_context(FakeSlack(bot_token=slack.BOT_TOKEN, app_token=slack.APP_TOKEN))
        row = cls(fake, stack)
        await row.open()
        return row

    def __init__(self, fake: FakeSlack, stack: AsyncExitStack) -> None:
        self.fake, self.stack = fake, stack
        self.adapter = self.slack = slack.http_adapter(fake)
        self.sink = RecordingSink()
        self.client: httpx.AsyncClient | None = None

    async def open(self) -> None:
        await self.slack.start(self.sink)
        self.stack.push_async_callback(self.slack.stop)
        assert isinstance(self.slack, HttpReceiver)
        self.client = await self.stack.enter_async_context(client_for(self.slack.routes()))

    async def _post(self, body: str, headers: dict[str, str]) -> int:
        assert self.client is not None
        response = await self.client.post("/slack/events", content=body.encode(), headers=headers)
        return response.status_code

    def _message_body(self) -> str:
        return json.dumps(slack.fixture("message_im"))

    async def deliver_message(self) -> None:
        body = self._message_body()
        assert await self._post(body, slack.signed(body, "application/json")) == 200

    async def deliver_forged(self) -> int:
        body = self._message_body()
        return await self._post(body, slack.signed(body, "application/json", secret="x" * 32))

    async def deliver_stale(self) -> int:
        body = self._message_body()
        stale = int(time.time()) - 6 * 60  # Bolt refuses requests over 5 minutes old
        return await self._post(body, slack.signed(body, "application/json", timestamp=stale))

    def _click_payload(self) -> dict[str, Any]:
        return slack.fixture("block_actions") | {"response_url": self.fake.response_url("click")}

    async def deliver_click(self) -> None:
        body = slack.interaction_form(self._click_payload())
        headers = slack.signed(body, "application/x-www-form-urlencoded")
        assert await self._post(body, headers) == 200

    def answers(self) -> int:
        return len(self.fake.calls_to("chat.postMessage")) + len(self.fake.responses)

    def updates(self) -> int:
        return len([call for call in self.fake.calls_to("chat.update") if call.answer["ok"]])

    async def uneditable_ref(self) -> str:
        ref = await self.slack.send(self.recipient, Reply(text="x"), key="gone")
        self.fake.fail_next("chat.update", error="cant_update_message")
        return ref

    def throttle_next_send(self) -> None:
        self.fake.fail_next("chat.postMessage", status=429, error="ratelimited", retry_after=7)

    def refused_recipient(self) -> Recipient:
        self.fake.fail_next("chat.postMessage", error="channel_not_found")
        return Recipient(platform="slack", address="C0GONE", is_group=True)


class SlackSocketRow(SlackHttpRow):
    name = "slack-socket"
    capabilities = SlackHttpRow.capabilities - {HTTP}

    def __init__(self, fake: FakeSlack, stack: AsyncExitStack) -> None:
        super().__init__(fake, stack)
        self.adapter = self.slack = SlackAdapter(
            bot_token=slack.BOT_TOKEN,
            app_token=slack.APP_TOKEN,
            mode="socket",
            api_base_url=fake.api_url,
        )

    async def open(self) -> None:
        await self.slack.start(self.sink)
        self.stack.push_async_callback(self.slack.stop)
        assert await asyncio.to_thread(self.fake.wait_socket_open)

    async def deliver_message(self) -> None:
        self.fake.push_envelope("events_api", slack.fixture("message_im"))

    async def deliver_click(self) -> None:
        self.fake.push_envelope("interactive", self._click_payload())
