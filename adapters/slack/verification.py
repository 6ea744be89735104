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


class ClockedVerification(AsyncRequestVerification):
    """Same middleware as `AsyncApp(request_verification_enabled=True)` installs."""

    def __init__(self, signing_secret: str, clock: Callable[[], float]) -> None:
        super().__init__(signing_secret)
        self._verifier = SignatureVerifier(signing_secret, clock=_InjectedClock(clock))
