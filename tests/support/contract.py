"""The rows of the adapter contract suite: every adapter paired with its loopback fake.

Each row drives its platform the way the platform itself would (signed HTTP to the routes the
adapter declares, frames down a Stream or Socket Mode connection, lines on stdin) and reads back
what reached the fake. `capabilities` says which contract tests apply, as APScheduler's data
store suite skips what a store cannot do.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx

from adapters.base import Adapter, HttpReceiver, HttpRoute
from adapters.console import ConsoleAdapter
from adapters.dingtalk.inbound import BOT_TOPIC, CARD_TOPIC
from adapters.slack import SlackAdapter
from adapters.webhook import WebhookAdapter
from adapters.wecom.render import card_ref
from handlers.types import Button, Card, Field, Recipient, Reply
from tests.fakes.dingtalk import FakeDingTalk
from tests.fakes.slack import FakeSlack
from tests.fakes.webhook_server import WebhookServer
from tests.fakes.wecom import FakeWeCom
from tests.support import dingtalk, slack, wecom
from tests.support.inbound import RecordingSink, eventually, served

HTTP = "http"
"""Inbound over HTTP routes the adapter declares: forged and stale requests can be tried."""
INBOUND = "inbound"
REDELIVERY = "redelivery"
"""The platform redelivers an event it thinks was not taken, with the same id."""
CLICK = "click"
UNEDITABLE = "uneditable"
"""Some messages cannot be edited on this platform."""
THROTTLE = "throttle"
REFUSAL = "refusal"

ALERT = Reply(
    text="北京 2026-11 社保逾期：欠费 1234.50。回复「确认 12」以确认。",
    card=Card(
        title="社保逾期",
        fields=(Field(label="参保地", value="beijing"),),
        buttons=(
            Button(action="ack", label="确认", value="12", style="primary"),
            Button(action="snooze", label="暂缓 4 小时", value="12:4h"),
        ),
    ),
)
ACKNOWLEDGED = Reply(text="告警 #12 已由 李四 确认", card=Card(title="社保逾期（已确认）"))


@asynccontextmanager
async def client_for(routes: Sequence[HttpRoute]) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client to the adapter's routes, mounted as `coverwatch run` mounts them."""
    async with (
        served(routes) as base,
        httpx.AsyncClient(base_url=base, trust_env=False, timeout=10) as client,
    ):
        yield client


class Row:
    """One adapter and its fake. Methods a row's capabilities do not list are never called."""

    name: str
    capabilities: frozenset[str] = frozenset()
    adapter: Adapter
    sink: RecordingSink
    recipient: Recipient
    message_user: str = ""
    """Who sends the valid chat message (`deliver_message`)."""
    message_event_id: str | None = None
    """The platform's id of that message (None: minted per message, nothing redelivers it)."""
    clicker: str = ""

    async def open(self) -> None:
        """Start the adapter (and its HTTP routes) against the fake."""

    async def deliver_message(self) -> None:
        """The platform delivers one valid chat message; again on each call (a redelivery)."""
        raise NotImplementedError

    async def deliver_forged(self) -> int:
        """A request whose signature is wrong; returns the HTTP status it got."""
        raise NotImplementedError

    async def deliver_stale(self) -> int:
        """A correctly signed request from too long ago; returns the HTTP status it got."""
        raise NotImplementedError

    async def deliver_click(self) -> None:
        """`clicker` clicks the ack button of alert 12."""
        raise NotImplementedError

    def answers(self) -> int:
        """How many answers to inbound events reached the platform."""
        raise NotImplementedError

    def updates(self) -> int:
        """How many message rewrites reached the platform."""
        raise NotImplementedError

    async def uneditable_ref(self) -> str:
        """Send something this platform cannot edit; its ref."""
        raise NotImplementedError

    def throttle_next_send(self) -> None:
        raise NotImplementedError

    def refused_recipient(self) -> Recipient:
        """A recipient the platform refuses for good."""
        raise NotImplementedError


class SlackHttpRow(Row):
    name = "slack-http"
    capabilities = frozenset({HTTP, INBOUND, REDELIVERY, CLICK, UNEDITABLE, THROTTLE, REFUSAL})
    recipient = Recipient(platform="slack", address="U0CA5")
    message_user = "U2147483697"
    message_event_id = "Ev0PV52K21"
    clicker = "U0CA5"

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


class DingTalkRow(Row):
    name = "dingtalk"
    capabilities = frozenset({INBOUND, REDELIVERY, CLICK, UNEDITABLE, THROTTLE, REFUSAL})
    recipient = Recipient(platform="dingtalk", address="0123456789003")
    message_user = "0123456789001"
    message_event_id = "frame-contract-1"
    clicker = "0123456789003"

    def __init__(self, fake: FakeDingTalk, stack: AsyncExitStack) -> None:
        self.fake, self.stack = fake, stack
        self.adapter = self.dingtalk = dingtalk.make_adapter(fake)
        self.sink = RecordingSink()

    async def open(self) -> None:
        await self.dingtalk.start(self.sink)
        self.stack.push_async_callback(self.dingtalk.stop)
        await eventually(lambda: self.fake.connections >= 1)

    async def deliver_message(self) -> None:
        data = dingtalk.payload(
            "bot_message_single",
            sessionWebhook=self.fake.session_webhook(),
            sessionWebhookExpiredTime=int(time.time() * 1000) + 3_600_000,
        )
        self.fake.send_frame(self.fake.frame(BOT_TOPIC, data, self.message_event_id or ""))

    async def deliver_click(self) -> None:
        frame = self.fake.frame(CARD_TOPIC, dingtalk.payload("card_callback"), "frame-click-1")
        self.fake.send_frame(frame)

    def answers(self) -> int:
        return len(self.fake.webhook_posts) + len(self.fake.batches)

    def updates(self) -> int:
        return len([call for call in self.fake.calls if call.method == "PUT"])

    async def uneditable_ref(self) -> str:
        # Without buttons it is a plain robot message, which DingTalk cannot edit.
        return await self.dingtalk.send(self.recipient, Reply(text="x"), key="plain")

    def throttle_next_send(self) -> None:
        self.fake.throttle_next = 1

    def refused_recipient(self) -> Recipient:
        self.fake.invalid_users.add("0000000000404")
        return Recipient(platform="dingtalk", address="0000000000404")


class WeComRow(Row):
    name = "wecom"
    capabilities = frozenset({HTTP, INBOUND, REDELIVERY, CLICK, UNEDITABLE, THROTTLE, REFUSAL})
    recipient = Recipient(platform="wecom", address="lisi")
    message_user = "zhangsan"
    message_event_id = "7248349923859371823"
    clicker = "lisi"

    def __init__(self, fake: FakeWeCom, clock: wecom.FakeClock, stack: AsyncExitStack) -> None:
        self.fake, self.clock, self.stack = fake, clock, stack
        self.adapter = self.wecom = wecom.make_adapter(fake, clock)
        self.sink = RecordingSink()
        self.client: httpx.AsyncClient | None = None

    async def open(self) -> None:
        await self.wecom.start(self.sink)
        self.stack.push_async_callback(self.wecom.stop)
        assert isinstance(self.wecom, HttpReceiver)
        self.client = await self.stack.enter_async_context(client_for(self.wecom.routes()))

    async def _post(self, query: dict[str, str], body: bytes) -> int:
        assert self.client is not None
        return (await self.client.post(wecom.post_url(query), content=body)).status_code

    async def deliver_message(self) -> None:
        query, body = wecom.encrypted_post(wecom.fixture_xml("text_message"), timestamp=self._now)
        assert await self._post(query, body) == 200

    @property
    def _now(self) -> int:
        return int(self.clock())

    async def deliver_forged(self) -> int:
        query, body = wecom.encrypted_post(wecom.fixture_xml("text_message"), timestamp=self._now)
        return await self._post({**query, "msg_signature": "0" * 40}, body)

    async def deliver_stale(self) -> int:
        xml = wecom.fixture_xml("text_message")
        query, body = wecom.encrypted_post(xml, timestamp=self._now - 6 * 60)
        return await self._post(query, body)

    async def deliver_click(self) -> None:
        xml = wecom.fixture_xml("template_card_event", FromUserName=self.clicker)
        query, body = wecom.encrypted_post(xml, timestamp=self._now)
        assert await self._post(query, body) == 200

    def answers(self) -> int:
        return len(self.fake.calls_to("message/send"))

    def updates(self) -> int:
        return len(self.fake.calls_to("message/update_template_card"))

    async def uneditable_ref(self) -> str:
        ref = await self.wecom.send(self.recipient, Reply(text="x"), key="text")
        assert ref != card_ref(self.recipient.address, "")
        return ref

    def throttle_next_send(self) -> None:
        self.fake.throttle_next = 1

    def refused_recipient(self) -> Recipient:
        return Recipient(platform="wecom", address="nobody")


class WebhookRow(Row):
    name = "webhook"
    capabilities = frozenset({THROTTLE, REFUSAL})
    recipient = Recipient(platform="webhook", address="hr-ops", is_group=True)

    def __init__(self, server: WebhookServer) -> None:
        self.server = server
        self.adapter = self.webhook = WebhookAdapter(server.url, "whsec-contract")
        self.sink = RecordingSink()

    def updates(self) -> int:
        return len([r for r in self.server.requests if r.json()["event"] == "update"])

    def throttle_next_send(self) -> None:
        self.server.answer(429, headers={"Retry-After": "7"})

    def refused_recipient(self) -> Recipient:
        self.server.answer(400)
        return self.recipient


class ConsoleRow(Row):
    name = "console"
    capabilities = frozenset({INBOUND})
    recipient = Recipient(platform="console", address="E1", employee_id="E1")
    message_user = "E1"

    def __init__(self, stack: AsyncExitStack) -> None:
        self.stack = stack
        read, write = os.pipe()
        self._input = os.fdopen(read, "r", encoding="utf-8")
        self._keyboard = os.fdopen(write, "w", encoding="utf-8")
        self._output = io.StringIO()
        self.adapter = self.console = ConsoleAdapter(
            user_id="E1", input=self._input, output=self._output
        )
        self.sink = RecordingSink()

    async def open(self) -> None:
        await self.console.start(self.sink)
        self.stack.push_async_callback(self._close)

    async def _close(self) -> None:
        await self.console.stop()
        self._keyboard.close()  # EOF ends the reader thread; then its end of the pipe may go
        reader = self.console._reader
        if reader is not None:
            await asyncio.to_thread(reader.join, 5)
        self._input.close()

    async def deliver_message(self) -> None:
        self._keyboard.write("coverage\n")
        self._keyboard.flush()

    def answers(self) -> int:
        return 0

    def updates(self) -> int:
        return self._output.getvalue().count(" updated ---")


ROWS = ("slack-http", "slack-socket", "dingtalk", "wecom", "webhook", "console")
CAPABILITIES = {
    row.name: row.capabilities
    for row in (SlackHttpRow, SlackSocketRow, DingTalkRow, WeComRow, WebhookRow, ConsoleRow)
}


@asynccontextmanager
async def open_row(name: str) -> AsyncIterator[Row]:
    """The adapter `name` started against its fake; everything stopped afterwards."""
    async with AsyncExitStack() as stack:
        row: Row
        if name.startswith("slack"):
            fake_slack = stack.enter_context(
                FakeSlack(bot_token=slack.BOT_TOKEN, app_token=slack.APP_TOKEN)
            )
            row = (SlackHttpRow if name == "slack-http" else SlackSocketRow)(fake_slack, stack)
            await row.open()
        elif name == "dingtalk":
            fake_dingtalk = FakeDingTalk()
            fake_dingtalk.start()
            stack.callback(fake_dingtalk.stop)
            row = DingTalkRow(fake_dingtalk, stack)
            await row.open()
        elif name == "wecom":
            clock = wecom.FakeClock(time.time())
            fake_wecom = FakeWeCom(
                corp_id=wecom.CORP_ID,
                secret=wecom.SECRET,
                agent_id=wecom.AGENT_ID,
                users=wecom.USERS,
                chats=frozenset({wecom.HR_CHAT}),
                clock=clock,
            )
            stack.enter_context(fake_wecom.running())
            row = WeComRow(fake_wecom, clock, stack)
            await row.open()
        elif name == "webhook":
            server = stack.enter_context(WebhookServer("whsec-contract"))
            row = WebhookRow(server)
            stack.push_async_callback(row.webhook.stop)
        else:
            row = ConsoleRow(stack)
            await row.open()
        yield row
