"""`scan_to_chat`: from a scan's commit to its alerts' messages arriving at the chat platform.

100 accounts, each with its own owner, and in each a recent hire still unregistered whose
manager is that owner: one scan opens 100 enrolment-deadline alerts, each a DM to a different
person. One recipient per alert keeps Slack's per-channel limit ("1 message per second to a
specific channel", enforced by the loopback fake, tests/fakes/slack.py) out of the figure, so
it measures the pipeline, not the limit.
Coverwatch: the outbox dispatcher as `coverwatch run` wires it (`bot.dispatcher.Dispatcher.run`,
real Slack adapter and alert renderer, `[scheduler] outbox_poll_seconds` at its default) is
running when `storage.scan.run_scan` commits in the same process; an alert's latency runs from
right after that commit to its chat.postMessage reaching the fake (the fake's receipt clock and
the side's are both `time.time`). The dispatcher polls, so the wait depends on where in its cycle
the commit falls: five scans (fresh process, fresh copy each) commit at evenly spread phases of
the cycle, and p50/p99 are taken over their 500 alerts. Baseline, the limit: the same 100 DMs
posted bare (open the DM, post) by eight concurrent senders, timed from their start.
Goal: p99 <= 3 s (Alertmanager waits `group_wait`, 30 s by default, before a first message).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bench.data import NOW, SCAN_DAY
from bench.harness import BenchError, Context, Outcome, Side, run_side
from bench.loadgen import percentile

ALERTS = 100
GOAL_SECONDS = 3.0
BOT_TOKEN = "xoxb-bench-token"
POLICY = "beijing"
ROUNDS = 5
"""Scans, each in a fresh process on a fresh copy: the wait for the dispatcher's next poll
depends on where in its cycle the commit falls, so the rounds commit at spread phases."""
WARM_SECONDS = 0.5


def account(index: int) -> str:
    return f"acct{index:03d}"


def owner(index: int) -> str:
    return f"O{index:03d}"


def slack_id(index: int) -> str:
    return f"UOWNER{index:03d}"


def routing(count: int) -> Any:
    """DMs on Slack only; each account's company-wide alerts go to its own owner."""
    from storage.routing import Routing

    return Routing(platforms=("slack",), owners={account(i): (owner(i),) for i in range(count)})


def seed(count: int) -> Any:
    """`count` accounts, each with an owner (who manages the account's one unregistered hire)."""

    def seed_engine(engine: Any) -> None:
        from core.policy import AccountSettings
        from core.policy_loader import load_policies
        from storage.accounts import sync_accounts
        from storage.db import session_scope, upgrade
        from storage.models import Employee

        upgrade(engine)
        configured = {
            account(i): AccountSettings(account_id=account(i), policy_id=POLICY)
            for i in range(count)
        }
        hired = SCAN_DAY - timedelta(days=25)  # 5 days to the deadline: a warning
        with session_scope(engine) as session:
            sync_accounts(session, configured, load_policies())
            for i in range(count):
                session.add(
                    Employee(
                        employee_id=owner(i),
                        name=f"Owner {i}",
                        department="HR",
                        account_id=account(i),
                        hire_date=SCAN_DAY - timedelta(days=900),
                        enrolled_on=SCAN_DAY - timedelta(days=900),
                        salary=Decimal("20000"),
                        role="manager",
                        slack_user_id=slack_id(i),
                    )
                )
                session.add(
                    Employee(
                        employee_id=f"H{i:03d}",
                        name=f"Hire {i}",
                        department="Ops",
                        manager_id=owner(i),
                        account_id=account(i),
                        hire_date=hired,
                        salary=Decimal("8000"),
                        role="employee",
                    )
                )

    return seed_engine


def coverwatch_side(url: str, api_url: str, count: int, phase: float) -> dict[str, Any]:
    """Start the dispatcher, scan `phase` (a share) into its poll cycle after a warm-up; wait
    until every alert's DM was sent."""
    from sqlmodel import Session, func, select

    from adapters.slack import SlackAdapter
    from bot.config import SchedulerConfig
    from bot.dispatcher import Dispatcher
    from core.alert_rules import RuleSettings
    from core.policy_loader import load_policies
    from handlers.alert_render import DeliveryRenderer
    from storage.db import make_engine
    from storage.models import Delivery
    from storage.scan import run_scan
    from tests.support.inbound import RecordingSink

    engine = make_engine(url)
    adapter = SlackAdapter(bot_token=BOT_TOKEN, signing_secret="unused", api_base_url=api_url)
    dispatcher = Dispatcher(engine, {"slack": adapter}, DeliveryRenderer(), worker="bench")
    poll_seconds = SchedulerConfig().outbox_poll_seconds
    policies, rules, route = load_policies(), RuleSettings(), routing(count)

    def scan() -> tuple[float, int]:
        report = run_scan(
            engine, as_of=SCAN_DAY, now=NOW, policies=policies, rules=rules, routing=route
        )
        return time.time(), len(report.opened)

    def unsent() -> int:
        with Session(engine) as session:
            query = select(func.count()).where(Delivery.state != "sent")
            return int(session.exec(query).one())

    async def scenario() -> tuple[float, int]:
        await adapter.start(RecordingSink())  # as `coverwatch run` starts it; nothing comes in
        stop = asyncio.Event()
        running = asyncio.create_task(dispatcher.run(stop, poll_seconds=poll_seconds))
        await asyncio.sleep(WARM_SECONDS + phase * poll_seconds)
        committed, opened = await asyncio.to_thread(scan)
        while await asyncio.to_thread(unsent):
            await asyncio.sleep(0.05)
        stop.set()
        await running
        await adapter.stop()
        return committed, opened

    committed, opened = asyncio.run(scenario())
    with Session(engine) as session:
        deliveries = int(session.exec(select(func.count()).select_from(Delivery)).one())
    engine.dispose()
    return {
        "seconds": 0.0,  # the parent sets it from the fake's receipt times
        "committed_at": committed,
        "alerts_opened": opened,
        "deliveries": deliveries,
        "poll_seconds": poll_seconds,
    }


def baseline_side(api_url: str, count: int) -> dict[str, Any]:
    """The same DMs, posted bare by eight concurrent senders: open the DM, post to it."""
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(token=BOT_TOKEN, base_url=api_url)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)

    async def sender() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            opened = await client.conversations_open(users=slack_id(index))
            await client.chat_postMessage(channel=opened["channel"]["id"], text=f"alert {index}")

    async def scenario() -> float:
        started = time.time()
        await asyncio.gather(*(sender() for _ in range(8)))
        return started

    return {"seconds": 0.0, "committed_at": asyncio.run(scenario())}


def _latencies(fake: Any, since: float, count: int) -> list[float]:
    """Seconds from `since` to each recipient's first accepted DM; every one must have one."""
    dms = {
        str(call.params["users"]): str(call.answer["channel"]["id"])
        for call in fake.calls_to("conversations.open")
        if call.answer.get("ok")
    }
    arrived: dict[str, float] = {}
    per_channel: Counter[str] = Counter()
    for call in fake.calls_to("chat.postMessage"):
        if call.answer.get("ok"):
            name = str(call.params["channel"])
            per_channel[name] += 1
            arrived.setdefault(name, call.at)
    expected = {dms.get(slack_id(i), slack_id(i)) for i in range(count)}
    if set(arrived) != expected or any(n > 1 for n in per_channel.values()):
        raise BenchError(
            f"{len(expected - set(arrived))} recipients missed, "
            f"{sum(1 for n in per_channel.values() if n > 1)} got more than one message"
        )
    return sorted(at - since for at in arrived.values())


def _measured(found: list[tuple[Side, list[float]]]) -> Side:
    """The first side, with p50/p99 over every round's latencies and the worst round's RSS."""
    side = found[0][0]
    latencies = sorted(value for _, values in found for value in values)
    side.seconds = latencies[-1]
    side.peak_rss_mb = max(each.peak_rss_mb for each, _ in found)
    side.extra["p50_s"] = round(percentile(latencies, 0.50), 3)
    side.extra["p99_s"] = round(percentile(latencies, 0.99), 3)
    side.extra["rounds"] = len(found)
    return side


def run(ctx: Context) -> Outcome:
    from tests.fakes.slack import FakeSlack

    count = ALERTS // 10 if ctx.small else ALERTS
    template = ctx.db.template(f"scan_to_chat_{count}", seed(count))
    rounds = 2 if ctx.small else ROUNDS
    runs: list[tuple[str, dict[str, Any]]] = [
        ("coverwatch", {"url": ctx.db.copy(template, f"scan_to_chat_{n}"), "phase": n / rounds})
        for n in range(rounds)
    ]
    measured: dict[str, list[tuple[Side, list[float]]]] = {"coverwatch": [], "baseline": []}
    for name, options in [*runs, ("baseline", {})]:
        with FakeSlack(bot_token=BOT_TOKEN, enforce_channel_rate=True, clock=time.time) as fake:
            target = f"bench.scan_to_chat:{name}_side"
            side = run_side(target, api_url=fake.api_url, count=count, **options)
            since = float(side.extra.pop("committed_at"))
            if side.extra.get("alerts_opened", count) != count:
                raise BenchError(f"a scan opened {side.extra['alerts_opened']} alerts, not {count}")
            measured[name].append((side, _latencies(fake, since, count)))
    sides = {name: _measured(found) for name, found in measured.items()}
    coverwatch, baseline = sides["coverwatch"], sides["baseline"]
    p99 = coverwatch.extra["p99_s"]
    return Outcome(
        name="scan_to_chat",
        backend=ctx.db.backend,
        rows=count * coverwatch.extra["rounds"],
        goal=f"p99 <= {GOAL_SECONDS:g} s from scan commit to message",
        ratio_label="p99 vs goal",
        ratio=p99 / GOAL_SECONDS,
        met=p99 <= GOAL_SECONDS,
        coverwatch=coverwatch,
        baseline=baseline,
        checks={
            "p50_s": coverwatch.extra["p50_s"],
            "p99_s": p99,
            "baseline_p50_s": baseline.extra["p50_s"],
            "baseline_p99_s": baseline.extra["p99_s"],
            "outbox_poll_seconds": coverwatch.extra["poll_seconds"],
            "rounds": coverwatch.extra["rounds"],
            "alerts_per_scan": count,
        },
    )
