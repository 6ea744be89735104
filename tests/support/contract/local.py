"""Contract rows for the adapters without a remote chat platform: the webhook and the console."""

from __future__ import annotations

import asyncio
import io
import os
from contextlib import AsyncExitStack

from adapters.console import ConsoleAdapter
from adapters.webhook import WebhookAdapter
from handlers.types import Recipient
from tests.fakes.webhook_server import WebhookServer
from tests.support.contract.row import INBOUND, REFUSAL, THROTTLE, Row
from tests.support.inbound import RecordingSink


class WebhookRow(Row):
    name = "webhook"
    capabilities = frozenset({THROTTLE, REFUSAL})
    recipient = Recipient(platform="webhook", address="hr-ops", is_group=True)

    @classmethod
    async def opened(cls, stack: AsyncExitStack) -> Row:
        row = cls(stack.enter_context(WebhookServer("whsec-contract")))
        stack.push_async_callback(row.webhook.stop)
        return row

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

    @classmethod
    async def opened(cls, stack: AsyncExitStack) -> Row:
        row = cls(stack)
        await row.open()
        return row

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

    def updates(self) -> int:
        return self._output.getvalue().count(" updated ---")
