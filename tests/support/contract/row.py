"""A row of the adapter contract suite: an adapter with its fake, and what the row can do.

Each row drives its platform the way the platform itself would (signed HTTP to the routes the
adapter declares, frames down a Stream or Socket Mode connection, lines on stdin) and reads back
what reached the fake. `capabilities` says which contract tests apply, as APScheduler's data
store suite skips what a store cannot do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import httpx

from adapters.base import Adapter, HttpRoute
from handlers.types import Button, Card, Field, Recipient, Reply
from tests.support.inbound import RecordingSink, served

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

    @classmethod
    async def opened(cls, stack: AsyncExitStack) -> Row:
        """The fake started, the adapter started against it; `stack` stops both."""
        raise NotImplementedError

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
