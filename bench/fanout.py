"""`fanout_10k`: 10,000 alert deliveries through the outbox to a Slack that enforces its limit.

The loopback fake Slack (tests/fakes/slack.py, in this parent process) answers 429 to a second
chat.postMessage to one channel within a second, as Slack documents ("1 message per second
to a specific channel", https://docs.slack.dev/reference/methods/chat.postMessage#rate_limiting).
The deliveries are spread over 200 channels, so the allowed rate is 200 messages/s and
k = N / 200 messages per channel cannot all arrive sooner than k - 1 seconds after the first.
Coverwatch: `bot.dispatcher.Dispatcher.run` with the real Slack adapter and alert renderer,
draining `delivery` rows written for real alerts (a scan's). Baseline, the limit: bare
senders that post the same number of messages, each as soon as its channel allows, no
database.
Goal: >= 90 % of the allowed rate; zero lost and zero duplicated (checked on the fake's log).
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from collections import Counter
from typing import Any

from bench.data import NOW, SCAN_DAY, seed_company, seed_history
from bench.harness import BenchError, Context, Outcome, cpu_checks, run_side

FULL_DELIVERIES = 10_000
CHANNELS = 200
RATE_GOAL = 0.90
BOT_TOKEN = "xoxb-bench-token"
COMPANY = 600


def channel(index: int) -> str:
    return f"C{index % CHANNELS:05d}"


def _seed(count: int) -> Any:
    """A small company whose scan opened alerts; then `count` deliveries of those alerts."""

    def seed(engine: Any) -> None:
        from core.alert_rules import RuleSettings
        from core.policy_loader import load_policies
        from storage.alerts import sending_alerts
        from storage.db import session_scope
        from storage.models import Delivery
        from storage.outbox import AlertPayload, NewDelivery, enqueue
        from storage.routing import Routing
        from storage.scan import run_scan

        seed_company(engine, COMPANY)
        seed_history(engine)
        run_scan(
            engine,
            as_of=SCAN_DAY,
            now=NOW,
            policies=load_policies(),
            rules=RuleSettings(lead_days=(7, 3, 1)),
            routing=Routing(),
        )
        with session_scope(engine) as session:
            session.execute(Delivery.__table__.delete())  # type: ignore[attr-defined]
            alerts = [alert.id for alert in sending_alerts(session) if alert.id is not None]
            items = [
                NewDelivery(
                    idempotency_key=f"bench:{index}",
                    alert_id=alerts[index % len(alerts)],
                    platform="slack",
                    address=channel(index),
                    is_group=True,
                    payload=AlertPayload(alert_id=alerts[index % len(alerts)], stage="bench"),
                    urgent=True,
                    not_before=NOW,
                )
                for index in range(count)
            ]
            enqueue(session, items, now=NOW)

    return seed


def coverwatch_side(url: str, api_url: str, count: int) -> dict[str, Any]:
    from sqlmodel import Session, func, select

    from adapters.slack import SlackAdapter
    from bot.dispatcher import Dispatcher
    from handlers.alert_render import DeliveryRenderer
    from storage.db import make_engine
    from storage.models import Delivery
    from tests.support.inbound import RecordingSink

    engine = make_engine(url)
    adapter = SlackAdapter(bot_token=BOT_TOKEN, signing_secret="unused", api_base_url=api_url)
    dispatcher = Dispatcher(engine, {"slack": adapter}, DeliveryRenderer(), worker="bench")

    def unsent() -> int:
        with Session(engine) as session:
            query = select(func.count()).where(Delivery.state != "sent")
            return int(session.exec(query).one())

    async def scenario() -> float:
        await adapter.start(RecordingSink())  # as `coverwatch run` starts it; nothing comes in
        stop = asyncio.Event()
        started = time.perf_counter()
        running = asyncio.create_task(dispatcher.run(stop, poll_seconds=0.05))
        while await asyncio.to_thread(unsent):
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - started
        stop.set()
        await running
        await adapter.stop()
        return elapsed

    started = resource.getrusage(resource.RUSAGE_SELF)
    seconds = asyncio.run(scenario())
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = used.ru_utime + used.ru_stime - started.ru_utime - started.ru_stime
    with Session(engine) as session:
        query = select(Delivery.state, func.count()).group_by(Delivery.state)
        states = {state: int(n) for state, n in session.exec(query).all()}
        attempts = int(session.exec(select(func.sum(Delivery.attempts))).one() or 0)
    engine.dispose()
    return {"seconds": seconds, "states": states, "retries": attempts, "cpu_seconds": cpu}


def baseline_side(api_url: str, count: int) -> dict[str, Any]:
    """Eight concurrent senders; each message goes as soon as its channel's last one was
    answered a second ago (Slack counted a post by the time it answered)."""
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(token=BOT_TOKEN, base_url=api_url)
    last: dict[str, float] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)

    async def sender() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            name = channel(index)
            while True:
                await asyncio.sleep(max(0.0, last.get(name, 0.0) + 1.0 - time.perf_counter()))
                key = {"key": f"bench:{index}"}
                try:
                    await client.chat_postMessage(
                        channel=name,
                        text=f"message {index}",
                        metadata={"event_type": "bench", "event_payload": key},
                    )
                    break
                except SlackApiError:  # a 429 after all: the same message, a second later
                    continue
                finally:
                    last[name] = time.perf_counter()

    async def scenario() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(8)))
        return time.perf_counter() - started

    started = resource.getrusage(resource.RUSAGE_SELF)
    seconds = asyncio.run(scenario())
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = used.ru_utime + used.ru_stime - started.ru_utime - started.ru_stime
    return {"seconds": seconds, "cpu_seconds": cpu}


def _audit(fake: Any, count: int) -> dict[str, int]:
    """Lost and duplicated keys, from what the fake Slack accepted."""
    delivered: Counter[str] = Counter()
    refused = 0
    for call in fake.calls_to("chat.postMessage"):
        if not call.answer.get("ok"):
            refused += 1
            continue
        metadata = call.params.get("metadata")
        metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
        delivered[metadata["event_payload"]["key"]] += 1
    expected = {f"bench:{index}" for index in range(count)}
    return {
        "delivered": len(delivered),
        "lost": len(expected - set(delivered)),
        "duplicated": sum(1 for n in delivered.values() if n > 1),
        "refused_429": refused,
    }


def run(ctx: Context) -> Outcome:
    from tests.fakes.slack import FakeSlack

    count = ctx.rows(FULL_DELIVERIES)
    template = ctx.db.template(f"fanout_{count}", _seed(count))
    sides, audits = {}, {}
    for name, target in (("coverwatch", "coverwatch_side"), ("baseline", "baseline_side")):
        with FakeSlack(bot_token=BOT_TOKEN, enforce_channel_rate=True) as fake:
            options: dict[str, Any] = {"api_url": fake.api_url, "count": count}
            if name == "coverwatch":
                options["url"] = ctx.db.copy(template, "fanout_cw")
            sides[name] = run_side(f"bench.fanout:{target}", **options)
            audits[name] = _audit(fake, count)
    coverwatch, baseline = sides["coverwatch"], sides["baseline"]
    audit = audits["coverwatch"]
    if audits["baseline"]["lost"] or audits["baseline"]["duplicated"]:
        raise BenchError(f"the baseline itself lost or doubled messages: {audits['baseline']}")
    minimum = count / CHANNELS - 1
    share = minimum / coverwatch.seconds
    return Outcome(
        name="fanout_10k",
        backend=ctx.db.backend,
        rows=count,
        goal=f">= {RATE_GOAL:.0%} of the allowed rate, 0 lost, 0 duplicated",
        ratio_label="share of allowed rate",
        ratio=share,
        met=share >= RATE_GOAL and audit["lost"] == 0 and audit["duplicated"] == 0,
        coverwatch=coverwatch,
        baseline=baseline,
        checks={
            "allowed_min_seconds": minimum,
            "baseline_share": round(minimum / baseline.seconds, 3),
            "baseline_refused_429": audits["baseline"]["refused_429"],
            "rate_per_s": round(count / coverwatch.seconds, 1),
            "cpu_ms_per_delivery": round(1000 * (coverwatch.cpu_seconds or 0.0) / count, 2),
            **audit,
            **cpu_checks(coverwatch, baseline),
        },
    )
