"""A platform down for minutes: deliveries are retried, with backoff, until it is back.

Twenty simulated minutes take no real time: the clock is injected and the test moves it.
The network path is a transport that refuses connections while the platform is "down"; then
the real loopback receiver answers 503 once per message before it accepts them.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
from sqlmodel import Session, select

from adapters.webhook import WebhookAdapter
from bot.dispatcher import BACKOFF_CAP_SECONDS, Dispatcher
from handlers.alert_render import render_delivery
from storage.db import make_engine
from storage.models import Delivery
from tests.fakes.webhook_server import WebhookServer
from tests.support.company import NOW
from tests.support.faults import MESSAGES, SECRET, ManualClock, company, received, states


class Outage(httpx.AsyncBaseTransport):
    """The network path to the platform: connection refused while `down`."""

    def __init__(self) -> None:
        self.down = True
        self.refused = 0
        self._real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        return await self._real.handle_async_request(request)


def test_platform_down_for_minutes_is_retried_until_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/coverwatch.db")
    clock = ManualClock(NOW)
    company(engine, clock)
    outage = Outage()
    with WebhookServer(SECRET, clock=lambda: clock().timestamp()) as server:
        adapter = WebhookAdapter(
            server.url,
            SECRET,
            client=httpx.AsyncClient(transport=outage, timeout=2),
            clock=lambda: clock().timestamp(),
        )
        dispatcher = Dispatcher(
            engine, {"webhook": adapter}, render_delivery, worker="w", clock=clock
        )

        async def outage_then_back() -> timedelta:
            """Down for 15 minutes, then a 503 per message; returns the time to drain after."""
            step, down_for = timedelta(seconds=20), timedelta(minutes=15)
            elapsed = timedelta(0)
            while elapsed < timedelta(hours=1) and states(engine) != {"sent": MESSAGES}:
                if outage.down and elapsed >= down_for:
                    outage.down = False
                    for _ in range(MESSAGES):
                        server.answer(503)
                clock.advance(step)
                elapsed += step
                await dispatcher.drain_once()
            return elapsed - down_for

        after_recovery = asyncio.run(outage_then_back())
        arrived = received(server)
    with Session(engine) as session:
        rows = list(session.exec(select(Delivery)))
    assert {row.state for row in rows} == {"sent"}
    assert set(arrived) == {f"fault:{index}" for index in range(MESSAGES)}
    # Retries are capped at 5 minutes apart: back within two capped waits (the 503, then ok).
    assert after_recovery <= timedelta(seconds=2 * BACKOFF_CAP_SECONDS + 20), after_recovery
    assert outage.refused >= MESSAGES * 3, "retried during the outage"
    # Backoff, not a hammering loop: 15 minutes of exponential backoff is about ten attempts.
    assert all(2 <= row.attempts <= 14 for row in rows), [row.attempts for row in rows]
    # Every key arrived; MESSAGES answers were 503s, so each key got through exactly once.
    assert sum(arrived.values()) == 2 * MESSAGES, arrived
    engine.dispose()
