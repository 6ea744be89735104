"""`coverwatch run`: build the runtime from settings and serve until SIGTERM/SIGINT."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from bot import loops
from bot.api import api_mount
from bot.api.auth import TokenRates
from bot.api.service import ApiService
from bot.app import import_targets, open_app
from bot.config import Settings
from bot.logs import configure_logging
from bot.preflight import check_port_free
from bot.runtime import Runtime
from bot.slow_lane import SlowLane
from bot.spool import Spool
from bot.wiring import build_adapters, routing_from, scheduled_jobs
from bot.workers import WorkerPool
from handlers.context import AppContext
from storage.db import is_sqlite


def build_runtime(
    settings: Settings,
    app: AppContext | None = None,
    *,
    handle_inline: bool = True,
    wake_workers: Callable[[], None] | None = None,
) -> Runtime:
    """`handle_inline`: answer chat in this process (no worker processes); else
    `wake_workers` tells them that rows were written."""
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
        slow_lane=(
            SlowLane(settings.chat.slow_workers)
            if settings.chat.slow_workers and handle_inline
            else None
        ),
        handle_inline=handle_inline,
        max_backlog=settings.chat.max_backlog,
        spool=Spool(Path(settings.chat.spool_path), settings.chat.spool_max_bytes),
        inbound_lease=timedelta(seconds=settings.chat.claim_lease_seconds),
        wake_workers=wake_workers,
    )


def serve(settings: Settings, app: AppContext | None = None, today: date | None = None) -> None:
    """Serve until SIGTERM/SIGINT, with `[chat] workers` handler processes beside (0: none,
    chat is answered in this process); they stop after the server, having answered what they
    hold. `today`: the hidden `--today`, for the workers' clocks."""
    configure_logging(settings.log, settings.bot.timezone)
    check_port_free(settings.http.host, settings.http.port)
    processes = settings.chat.worker_processes(sqlite=is_sqlite(settings.database.url))
    pool = WorkerPool(settings, processes, today, woken=True) if processes else None
    if pool is not None:
        pool.start()
    try:
        runtime = build_runtime(
            settings,
            app,
            handle_inline=pool is None,
            wake_workers=None if pool is None else pool.wake,
        )
        loops.run(runtime.serve())
    finally:
        if pool is not None:
            pool.stop()
