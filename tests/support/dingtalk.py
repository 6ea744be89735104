"""Helpers of the DingTalk adapter tests: an adapter aimed at the loopback fake,
a recording sink, payload fixtures and a deadline-bounded poll."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from adapters.base import TAKEN, Admission, ReplyTarget
from adapters.dingtalk import DingTalkAdapter
from handlers.types import Action, Message
from tests.fakes.dingtalk import FakeDingTalk

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dingtalk"
ROBOT_CODE = "dingrobot0001"
TEMPLATE_ID = "coverwatch-alert.schema"


def make_adapter(fake: FakeDingTalk, **overrides: Any) -> DingTalkAdapter:
    options: dict[str, Any] = {
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "robot_code": ROBOT_CODE,
        "api_base_url": fake.base_url,
        "card_template_id": TEMPLATE_ID,
        "stall_seconds": 5.0,
        "backoff_base": 0.05,
        "backoff_max": 0.2,
    }
    options.update(overrides)
    return DingTalkAdapter(**options)


def payload(name: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    data.update(changes)
    return data


class Sink:
    """Records what the adapter hands to the runtime, and on which thread."""

    def __init__(self) -> None:
        self.events: list[tuple[Message | Action, ReplyTarget]] = []
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(
        self, event: Message | Action, reply_to: ReplyTarget, *, platform_retries: bool
    ) -> Admission:
        assert asyncio.get_running_loop() is self.loop, "sink must run on the runtime's loop"
        assert not platform_retries, "DingTalk does not send an acked frame again"
        self.events.append((event, reply_to))
        return TAKEN


async def poll(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `condition()` holds, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.02)


def run(scenario: Callable[[], Awaitable[None]], timeout: float = 20.0) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), timeout)

    asyncio.run(bounded())


@asynccontextmanager
async def connected(
    fake: FakeDingTalk, adapter: DingTalkAdapter, sink: Sink
) -> AsyncIterator[None]:
    """The adapter started on this loop and its stream client connected to the fake."""
    sink.loop = asyncio.get_running_loop()
    await adapter.start(sink)
    try:
        await poll(lambda: fake.connections >= 1)
        yield
    finally:
        await adapter.stop()
