"""The API over a real database (SQLite file or PostgreSQL), served by uvicorn on a random
loopback port in a thread and spoken to with httpx, with tokens made by the storage layer as
`coverwatch token create` makes them."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

import httpx
from starlette.applications import Starlette

from bot.api import api_mount
from bot.api.auth import TokenRates
from bot.api.service import ApiService
from bot.app import fixed_clock, import_targets, open_app
from bot.config import load_settings
from storage.api_tokens import SCOPES, create_token, revoke_token
from storage.db import session_scope
from tests.fakes.loopback import LoopbackServer, wait_started
from tests.support.cli import EMPLOYEES

TODAY = date(2026, 11, 20)
"""As in tests.support.cli.py: Beijing's November dues fell due on 2026-11-16."""
PAYMENT = {"account": "beijing", "period": "2026-10", "amount": "1234.50", "paid_on": "2026-11-03"}


def company_items() -> list[dict[str, str]]:
    """tests/support/cli.py's five employees as API items (blank cells left out)."""
    header, *lines = EMPLOYEES.splitlines()
    rows = [dict(zip(header.split(","), line.split(","), strict=True)) for line in lines]
    return [{name: value for name, value in row.items() if value} for row in rows]


@dataclass
class Api:
    client: httpx.Client
    service: ApiService
    tokens: dict[str, str]
    """By name: `all` (every scope), `read`, `payments` (payments:write only), `revoked`."""

    def headers(self, token: str = "all", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[token]}", **extra}


@contextmanager
def running_api(
    db_url: str, *, per_minute: int = 1000, max_body_bytes: int = 1024 * 1024
) -> Iterator[Api]:
    settings = load_settings(None, environ={}, database_url=db_url)
    context = open_app(settings, clock=fixed_clock(TODAY, ZoneInfo(settings.bot.timezone)))
    service = ApiService(
        context=context,
        targets=import_targets(settings, context),
        rates=TokenRates(per_minute),
        max_body_bytes=max_body_bytes,
    )
    now = context.now()
    with session_scope(context.engine) as session:
        tokens = {
            "all": create_token(session, "erp", SCOPES, now=now),
            "read": create_token(session, "dashboard", ["read"], now=now),
            "payments": create_token(session, "bank-feed", ["payments:write"], now=now),
            "revoked": create_token(session, "old", SCOPES, now=now),
        }
    with session_scope(context.engine) as session:
        revoke_token(session, "old", now=now)
    app = Starlette(routes=[api_mount(service)])
    with serving(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        yield Api(client, service, tokens)
    context.engine.dispose()


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """`app` on http://127.0.0.1:<random port> until the block ends."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = LoopbackServer(app)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    try:
        wait_started(server, thread, "API")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.stop()
        thread.join(10)
        sock.close()
