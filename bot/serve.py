"""`coverwatch run`: build the runtime from settings and serve until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot.app import open_app
from bot.config import Settings
from bot.runtime import Runtime
from bot.wiring import build_adapters, routing_from, scheduled_jobs
from handlers.context import AppContext


def build_runtime(settings: Settings, app: AppContext | None = None) -> Runtime:
    context = app or open_app(settings)
    routing = routing_from(settings)
    return Runtime(
        context,
        build_adapters(settings),
        host=settings.http.host,
        port=settings.http.port,
        poll_seconds=settings.scheduler.outbox_poll_seconds,
        claim_lease=timedelta(seconds=settings.scheduler.outbox_claim_lease_seconds),
        jobs=scheduled_jobs(settings, context, routing),
    )


def serve(settings: Settings, app: AppContext | None = None) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # At DEBUG these clients log request lines and bodies: WeCom's corpsecret in the gettoken
    # query (urllib3) and reply bodies with contribution bases (slack_sdk). Never below INFO.
    for chatty in ("urllib3", "slack_sdk", "slack_bolt", "httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.INFO)
    asyncio.run(build_runtime(settings, app).serve())
