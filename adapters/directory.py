"""Finding a person's platform user id from their work email or mobile (`coverwatch sync
users`), so HR does not type thousands of ids into the employees file; and proving the
credentials with one real call (`coverwatch doctor`).

One `UserDirectory` per platform, each in its adapter's package; the sync in `bot.user_sync`
paces the calls by `pace` and waits out `LookupThrottled`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from adapters.base import RateLimit


@dataclass(frozen=True, kw_only=True)
class Contact:
    email: str | None = None
    mobile: str | None = None


class LookupThrottled(Exception):
    """The platform said "too many calls": wait `retry_after` seconds and ask again."""

    def __init__(self, reason: str, *, retry_after: float) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class LookupRefused(Exception):
    """Credentials or a permission were refused: no further look-up can succeed. The message
    names the missing scope or setting."""


class LookupFailed(Exception):
    """This one person's look-up failed (a malformed mobile, say); the others may go on."""


class UserDirectory(Protocol):
    platform: str
    pace: RateLimit
    """The platform's documented limit for the look-up call, app-wide."""

    def key_of(self, contact: Contact) -> str | None:
        """What this platform looks the person up by (`email` or `mobile`), None when they have
        neither that it can use."""

    async def lookup(self, contact: Contact) -> str | None:
        """The person's user id, or None when the platform has nobody with that email/mobile.

        :raises LookupThrottled: over the platform's rate limit.
        :raises LookupRefused: credentials or permission refused.
        :raises LookupFailed: this look-up failed for a reason of its own.
        """

    async def verify(self) -> str:
        """Prove the credentials with one real call (`coverwatch doctor`); returns who we are.

        :raises LookupRefused: the platform refused them (the message names the fix).
        :raises LookupFailed: the platform could not be reached.
        """

    async def close(self) -> None: ...
