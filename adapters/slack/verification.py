"""Slack's request signature, checked on the raw body before Bolt (or anything) parses it.

Slack signs `v0:{timestamp}:{raw body}` with HMAC-SHA256 and the check refuses timestamps more
than 5 minutes away (https://docs.slack.dev/authentication/verifying-requests-from-slack/).
Bolt's own verification middleware runs only after `AsyncBoltRequest` has parsed the body, so a
forged body such as `0` could crash the parse (500) before being refused; ours runs first, with
an injectable clock, and a failure is 401 with nothing dispatched.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_sdk.signature import Clock, SignatureVerifier

from adapters.base import HttpRequest


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


def verifier(signing_secret: str, clock: Callable[[], float]) -> SignatureVerifier:
    """Slack's signature check on the raw body and headers, before anything parses the body."""
    return _StrictVerifier(signing_secret, clock=_InjectedClock(clock))


def is_signed(verifier: SignatureVerifier, request: HttpRequest) -> bool:
    try:
        body = request.body.decode("utf-8")  # Slack sends UTF-8 only
    except UnicodeDecodeError:
        return False
    timestamp = request.headers.get("x-slack-request-timestamp")
    return bool(verifier.is_valid(body, timestamp, request.headers.get("x-slack-signature")))
