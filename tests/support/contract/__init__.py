"""The adapter contract suite's rows (`tests/adapters/test_contract.py`): one per adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from tests.support.contract.dingtalk import DingTalkRow
from tests.support.contract.local import ConsoleRow, WebhookRow
from tests.support.contract.row import (
    ACKNOWLEDGED,
    ALERT,
    CLICK,
    HTTP,
    INBOUND,
    REDELIVERY,
    REFUSAL,
    THROTTLE,
    UNEDITABLE,
    Row,
)
from tests.support.contract.slack import SlackHttpRow, SlackSocketRow
from tests.support.contract.wecom import WeComRow

__all__ = [
    "ACKNOWLEDGED",
    "ALERT",
    "CAPABILITIES",
    "CLICK",
    "HTTP",
    "INBOUND",
    "REDELIVERY",
    "REFUSAL",
    "ROWS",
    "THROTTLE",
    "UNEDITABLE",
    "Row",
    "open_row",
]

ROW_TYPES: dict[str, type[Row]] = {
    row.name: row
    for row in (SlackHttpRow, SlackSocketRow, DingTalkRow, WeComRow, WebhookRow, ConsoleRow)
}
ROWS = tuple(ROW_TYPES)
CAPABILITIES = {name: row.capabilities for name, row in ROW_TYPES.items()}


@asynccontextmanager
async def open_row(name: str) -> AsyncIterator[Row]:
    """The adapter `name` started against its fake; everything stopped afterwards."""
    async with AsyncExitStack() as stack:
        yield await ROW_TYPES[name].opened(stack)
