"""`coverwatch run`: build the runtime from settings and serve until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.api import api_mount
from bot.api.auth import TokenRates
from bot.api.service import ApiService
from bot.app import import_targets, open_app
from bot.config import Settings
from bot.logs import configure_logging
from bot.preflight import check_port_free
from bot.runtime import Runtime
from bot.slow_lane import SlowLane
from bot.wiring import build_adapters, routing_from, scheduled_jobs
from handlers.context import AppContext


def build_runtime(settings: Settings, app: AppContext | None = None) -> Runtime:
    context = app or open_app(settings)
    routing = routing_from(settings)
    api = ApiService(
        context=context,
        targets=import_targets(settings, context),
        rates=TokenRates(settings.http.api_rate_per_minute),
        max_body_bytes=settings.http.max_body_bytes,
    )
    return Runtime(
        context,
        build_adapters(settings),
        host=settings.http.host,
        port=settings.http.port,
        poll_seconds=settings.scheduler.outbox_poll_seconds,
        claim_lease=timedelta(seconds=settings.scheduler.outbox_claim_lease_seconds),
        jobs=scheduled_jobs(settings, context, routing),
        mounts=[api_mount(api)],
        max_body_bytes=settings.http.max_body_bytes,
        metrics_token=settings.http.metrics_token,
        slow_lane=SlowLane(settings.chat.slow_workers) if settings.chat.slow_workers else None,
    )


def serve(settings: Settings, app: AppContext | None = None) -> None:
    configure_logging(settings.log, settings.bot.timezone)
    check_port_free(settings.http.host, settings.http.port)
    asyncio.run(build_runtime(settings, app).serve())
