"""The company every fault test starts from: open alerts and webhook deliveries due soon.

The clock is injected (`ManualClock`): deliveries come due when a test moves time.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.alert_rules import RuleSettings
from handlers.context import AppContext
from storage.alerts import sending_alerts
from storage.db import session_scope, upgrade
from storage.models import Delivery
from storage.outbox import AlertPayload, NewDelivery, enqueue
from storage.routing import Routing
from storage.scan import run_scan
from tests.fakes.webhook_server import WebhookServer
from tests.support.company import NOW, make_app, seed

SECRET = "reliability-webhook-secret"
DUE_IN = timedelta(minutes=1)
MESSAGES = 3


class ManualClock:
    """The app's clock; only the test moves it (thread-safe: the runtime reads it anywhere)."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta


def company(engine: Engine, clock: ManualClock) -> AppContext:
    """The handler tests' company, its open alerts, and MESSAGES webhook deliveries due in a
    minute (the scan's own deliveries removed, so the count is exact)."""
    upgrade(engine)
    seed(engine)
    app = make_app(engine)
    app = AppContext(engine=engine, policies=app.policies, clock=clock)
    run_scan(
        engine,
        as_of=NOW.date(),
        now=NOW,
        policies=app.policies,
        rules=RuleSettings(lead_days=(7, 3, 1)),
        routing=Routing(),
    )
    with session_scope(engine) as session:
        session.execute(Delivery.__table__.delete())  # type: ignore[attr-defined]
        alert = sending_alerts(session)[0]
        assert alert.id is not None
        payload = AlertPayload(alert_id=alert.id, stage="fault", locale="en")
        items = [
            NewDelivery(
                idempotency_key=f"fault:{index}",
                alert_id=alert.id,
                platform="webhook",
                address="webhook",
                is_group=True,
                payload=payload,
                urgent=True,
                not_before=NOW + DUE_IN,
            )
            for index in range(MESSAGES)
        ]
        enqueue(session, items, now=NOW)
    return app


def received(server: WebhookServer) -> Counter[str]:
    return Counter(r.json()["key"] for r in server.requests if r.signature_ok)


def states(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        return Counter(delivery.state for delivery in session.exec(select(Delivery)))
