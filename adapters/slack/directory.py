"""Slack member ids by email: `users.lookupByEmail` (scope `users:read.email`, Tier 3: 50+ per
minute; https://docs.slack.dev/reference/methods/users.lookupByEmail)."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import RateLimit
from adapters.directory import Contact, LookupFailed, LookupRefused, LookupThrottled

NOT_FOUND = frozenset({"users_not_found", "user_not_found"})
REFUSED = {
    "not_authed": "no bot token sent",
    "invalid_auth": "the bot token is invalid",
    "account_inactive": "the bot token belongs to a deleted app or user",
    "token_revoked": "the bot token was revoked",
    "missing_scope": "the app lacks the users:read.email scope (reinstall it with the manifest)",
}
DEFAULT_RETRY_AFTER = 30.0


class SlackDirectory:
    platform = "slack"
    pace = RateLimit(scope="app", count=50, seconds=60.0)

    def __init__(self, *, bot_token: str, api_base_url: str) -> None:
        self._client = AsyncWebClient(token=bot_token, base_url=api_base_url.rstrip("/") + "/")

    def key_of(self, contact: Contact) -> str | None:
        return "email" if contact.email else None

    async def lookup(self, contact: Contact) -> str | None:
        try:
            response = await self._client.users_lookupByEmail(email=contact.email or "")
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if exc.response.status_code == 429:
                retry_after = exc.response.headers.get("Retry-After", "")
                delay = float(retry_after) if retry_after.isdigit() else DEFAULT_RETRY_AFTER
                raise LookupThrottled("slack: ratelimited", retry_after=delay) from None
            if error in NOT_FOUND:
                return None
            if error in REFUSED:
                raise LookupRefused(f"slack: {REFUSED[error]} ({error})") from None
            raise LookupFailed(f"slack: {error or exc.response.status_code}") from None
        return str(response["user"]["id"])

    async def verify(self) -> str:
        """`auth.test` (https://docs.slack.dev/reference/methods/auth.test)."""
        try:
            answer = await self._client.auth_test()
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            raise LookupRefused(f"slack: {REFUSED.get(error, error)} ({error})") from None
        except (OSError, TimeoutError) as exc:
            raise LookupFailed(f"slack: unreachable ({type(exc).__name__})") from None
        return f"bot {answer.get('user')} in workspace {answer.get('team')}"

    async def close(self) -> None:
        session = getattr(self._client, "session", None)
        if session is not None:
            await session.close()
