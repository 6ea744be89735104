"""Who is calling and how often: Bearer tokens, scopes and a per-token request rate.

The cheapest refusal runs first (STYLE.md, "verify, then parse"): the token is checked before
the body is read. A missing, malformed, unknown or revoked token is 401 with
`WWW-Authenticate: Bearer` (RFC 6750 §3); a valid token outside its scope is 403; a token over
its rate is 429 with `Retry-After` in whole seconds (RFC 9110 §10.2.3).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine
from starlette.requests import Request

from bot.api.problems import ApiProblem
from bot.ratelimit import SlidingWindow
from storage.api_tokens import Credential, authenticate
from storage.db import session_scope

RATE_WINDOW_SECONDS = 60.0


class TokenRates:
    """At most `per_minute` requests per token in any 60 s (in this process's memory, like the
    dispatcher's windows: a restart starts afresh)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._windows: dict[int, SlidingWindow] = {}

    def admit(self, credential: Credential) -> None:
        """Count one request, or raise 429 saying when the next one fits."""
        window = self._windows.setdefault(
            credential.id, SlidingWindow(self.per_minute, RATE_WINDOW_SECONDS)
        )
        now = self.clock()
        wait = window.wait(now)
        if wait > 0:
            raise ApiProblem.of(
                429,
                f"more than {self.per_minute} requests a minute with this token",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        window.add(now)


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def authorize(request: Request, engine: Engine, scope: str, rates: TokenRates) -> Credential:
    """The caller's credential when it may use `scope` now; else raises 401, 403 or 429."""
    presented = _bearer(request)
    credential = None
    if presented is not None and len(presented) <= 200:

        def check() -> Credential | None:
            with session_scope(engine) as session:
                return authenticate(session, presented)

        credential = await asyncio.to_thread(check)
    if credential is None:
        raise ApiProblem.of(
            401,
            "missing, unknown or revoked API token (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": 'Bearer realm="coverwatch"'},
        )
    if scope not in credential.scopes:
        raise ApiProblem.of(403, f"this token lacks the scope {scope}")
    rates.admit(credential)
    return credential
