"""Translate Slack Web API and response_url failures into the outbox's `DeliveryError`.

Slack answers most errors with HTTP 200 and `{"ok": false, "error": ...}`; rate limiting is
HTTP 429 with `Retry-After` seconds (https://docs.slack.dev/apis/web-api/rate-limits).
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.webhook import WebhookResponse

from adapters.base import DeliveryError, MessageNotEditable

# Errors that a later attempt can get past; any other `ok: false` is a fault in the request or
# the installation (invalid_auth, channel_not_found, not_in_channel, ...) that retrying repeats.
# https://docs.slack.dev/reference/methods/chat.postMessage#errors
_TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# chat.update on a message that cannot be edited (https://docs.slack.dev/reference/methods/chat.update#errors).
_NOT_EDITABLE = frozenset({"cant_update_message", "message_not_found", "edit_window_closed"})


def _retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """`Retry-After`, whatever case its name came in (aiohttp's headers ignore case; those of
    `adapters.blocking_http` are a plain dict)."""
    value = next(
        (value for name, value in (headers or {}).items() if name.lower() == "retry-after"), None
    )
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def from_api_error(error: SlackApiError) -> DeliveryError:
    response = error.response
    status = int(response.status_code)
    data = response.data if isinstance(response.data, dict) else {}
    code = str(data.get("error") or f"http_{status}")
    reason = f"slack: {code}"
    if status == 429 or code == "ratelimited":
        return DeliveryError(reason, retry_after=_retry_after(response.headers))
    if status >= 500 or code in _TRANSIENT:
        return DeliveryError(reason)
    if code in _NOT_EDITABLE:
        return MessageNotEditable(reason)
    return DeliveryError(reason, permanent=True)


def check_webhook(response: WebhookResponse) -> None:
    """A response_url answers plain text: `ok`, or an error such as `expired_url` / `used_url`.

    https://docs.slack.dev/interactivity/handling-user-interaction#message_responses
    """
    status = response.status_code
    if status == 200:
        return
    reason = f"slack response_url: {status} {response.body}".strip()
    if status == 429:
        raise DeliveryError(reason, retry_after=_retry_after(response.headers))
    raise DeliveryError(reason, permanent=status < 500)


@contextmanager
def delivery_errors() -> Iterator[None]:
    """Around any outbound call: every failure leaves as a `DeliveryError`."""
    try:
        yield
    except SlackApiError as error:
        raise from_api_error(error) from error
    except (OSError, http.client.HTTPException, aiohttp.ClientError, SlackRequestError) as error:
        # Connection trouble (aiohttp's, or `adapters.blocking_http`'s: OSError, HTTPException),
        # timeouts and a failed file upload step are worth another attempt.
        raise DeliveryError(f"slack: {type(error).__name__}: {error}") from error
