"""The contract row for WeCom: encrypted callbacks in, app messages and card updates out."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack

import httpx

from adapters.base import HttpReceiver
from adapters.wecom.render import parse_card_ref
from handlers.types import Recipient, Reply
from tests.fakes.wecom import FakeWeCom
from tests.support import wecom
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


class WeComRow(Row):
    name = "wecom"
    capabilities = frozenset({HTTP, INBOUND, REDELIVERY, CLICK, UNEDITABLE, THROTTLE, REFUSAL})
    recipient = Recipient(platform="wecom", address="lisi")
    message_user = "zhangsan"
    message_event_id = "7248349923859371823"
    clicker = "lisi"

    @classmethod
    async def opened(cls, stack: AsyncExitStack) -> Row:
        clock = wecom.FakeClock(time.time())
        fake = FakeWeCom(
            corp_id=wecom.CORP_ID,
            secret=wecom.SECRET,
            agent_id=wecom.AGENT_ID,
            users=wecom.USERS,
            chats=frozenset({wecom.HR_CHAT}),
            clock=clock,
        )
        stack.enter_context(fake.running())
        row = cls(fake, clock, stack)
        await row.open()
        return row

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
        # A text message: WeCom can only grey out a button card's buttons (doc 94888).
        ref = await self.wecom.send(self.recipient, Reply(text="x"), key="text")
        assert parse_card_ref(ref) is None
        return ref

    def throttle_next_send(self) -> None:
        self.fake.throttle_next = 1

    def refused_recipient(self) -> Recipient:
        return Recipient(platform="wecom", address="nobody")
