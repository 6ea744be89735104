"""Helpers of the Slack adapter tests: signed requests, payload fixtures, the HTTP shim, a sink.

Its fixtures (`fake_slack`, `anyio_backend`) live in tests/conftest.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from adapters.slack import SlackAdapter
from adapters.slack.adapter import EVENTS_PATH
from tests.fakes.slack import FakeSlack
from tests.support.inbound import served

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
    """The adapter's Request URL, served as `coverwatch run` mounts it."""
    async with served(adapter.routes()) as base:
        yield base + EVENTS_PATH
