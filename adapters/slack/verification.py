"""Bolt's request verification with an injectable clock (tests pin "now"; nothing else changes).

Slack signs `v0:{timestamp}:{raw body}` with HMAC-SHA256 and the check refuses timestamps more
than 5 minutes away (https://docs.slack.dev/authentication/verifying-requests-from-slack/);
on failure Bolt answers 401 and dispatches nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt.middleware.request_verification.async_request_verification import (
    AsyncRequestVerification,
)
from slack_sdk.signature import Clock, SignatureVerifier


class _InjectedClock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


class _StrictVerifier(SignatureVerifier):
    """Slack's timestamps are whole seconds; anything else is unverified (slack_sdk would raise
    on `int()` and Bolt would answer 500 instead of 401)."""

    def is_valid(self, body: str | bytes, timestamp: str | None, signature: str | None) -> bool:
        if timestamp is None or not (timestamp.isascii() and timestamp.isdigit()):
            return False
        return bool(super().is_valid(body, timestamp, signature))


class ClockedVerification(AsyncRequestVerification):
    """Same middleware as `AsyncApp(request_verification_enabled=True)` installs."""

    def __init__(self, signing_secret: str, clock: Callable[[], float]) -> None:
        super().__init__(signing_secret)
        self._verifier = _StrictVerifier(signing_secret, clock=_InjectedClock(clock))
