"""The contract row for DingTalk: Stream frames in, the robot and card OpenAPI out."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack

from adapters.dingtalk.inbound import BOT_TOPIC, CARD_TOPIC
from handlers.types import Recipient, Reply
from tests.fakes.dingtalk import FakeDingTalk
from tests.support import dingtalk
from tests.support.contract.row import (
    CLICK,
    INBOUND,
    REDELIVERY,
    REFUSAL,
    THROTTLE,
    UNEDITABLE,
    Row,
)
from tests.support.inbound import RecordingSink, eventually


class DingTalkRow(Row):
    name = "dingtalk"
    capabilities = frozenset({INBOUND, REDELIVERY, CLICK, UNEDITABLE, THROTTLE, REFUSAL})
    recipient = Recipient(platform="dingtalk", address="0123456789003")
    message_user = "0123456789001"
    message_event_id = "frame-contract-1"
    clicker = "0123456789003"

    @classmethod
    async def opened(cls, stack: AsyncExitStack) -> Row:
        fake = FakeDingTalk()
        fake.start()
        stack.callback(fake.stop)
        row = cls(fake, stack)
        await row.open()
        return row

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
