"""Outbound-only webhook: each delivery is a signed JSON POST to `[webhook] url`.

For teams whose chat tool has no adapter: any receiver can verify a delivery with
`verify_webhook_signature` (ARCHITECTURE.md §3, `[webhook]`). The signature scheme follows
Slack's request signing (`v0=HMAC(secret, "v0:" + ts + ":" + body)`), here
`v1=<hex of HMAC-SHA256(secret, ts + "." + body)>`, so a stale or altered body is refused.
Failures become `DeliveryError`s the outbox can act on: retry later, honour Retry-After, or stop.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from adapters.base import DeliveryError, RateLimit
from handlers.types import Card, Recipient, Reply

SIGNATURE_VERSION = "v1"
TIMESTAMP_HEADER = "X-Coverwatch-Timestamp"
SIGNATURE_HEADER = "X-Coverwatch-Signature"
IDEMPOTENCY_HEADER = "X-Coverwatch-Idempotency-Key"

# RFC 9110 §15.5.9 (408) and §15.6.4 (503) / RFC 6585 §4 (429): the request may be repeated.
_RETRYABLE_4XX = frozenset({408, 429})


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Coverwatch-Signature` value for a body sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify_webhook_signature(
    secret: str, timestamp: str, body: bytes, signature: str, *, now: float, tolerance: int = 300
) -> bool:
    """True when `signature` is ours for this body and `timestamp` is within `tolerance` s."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent_at) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookAdapter:
    """A `Sender` to a generic HTTPS receiver: nothing comes back, so it has no `Receiver` part."""

    name = "webhook"
    # A company's own receiver documents no limit; the outbox still spaces retries by backoff.
    rate_limits: tuple[RateLimit, ...] = ()

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
    ) -> None:
        self._url = url
        self._secret = secret
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient(timeout=timeout)
        self._clock = clock

    async def stop(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def send(self, recipient: Recipient, reply: Reply, *, key: str) -> str:
        """POST a `message` event; the receiver's `id` (if it answers one) else `key`."""
        payload = {
            "event": "message",
            "key": key,
            "recipient": {
                "platform": recipient.platform,
                "address": recipient.address,
                "is_group": recipient.is_group,
                "employee_id": recipient.employee_id,
                "locale": recipient.locale,
                "timezone": recipient.timezone,
            },
            **_content(reply),
        }
        return await self._post(payload, key=key)

    async def update(self, message_ref: str, reply: Reply) -> None:
        """The receiver rewrites its message `message_ref` (the id `send` returned)."""
        payload = {"event": "update", "message_ref": message_ref, **_content(reply)}
        await self._post(payload, key=_content_key("update", message_ref, payload))

    async def _post(self, payload: dict[str, Any], *, key: str) -> str:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            IDEMPOTENCY_HEADER: key,
        }
        # Reasons never include the URL: webhook URLs often carry a token in the path.
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise DeliveryError("webhook: timed out") from None
        except httpx.TransportError as exc:
            raise DeliveryError(f"webhook: {type(exc).__name__}") from None
        status = response.status_code
        if status < 300:
            return _receiver_id(response) or key
        reason = f"webhook: HTTP {status}"
        if status in _RETRYABLE_4XX or status >= 500:
            retry_after = _retry_after(response.headers.get("Retry-After"), now=self._clock())
            raise DeliveryError(reason, retry_after=retry_after)
        raise DeliveryError(reason, permanent=True)


def _content(reply: Reply) -> dict[str, Any]:
    return {"text": reply.text, "card": _card(reply.card) if reply.card else None}


def _card(card: Card) -> dict[str, Any]:
    return {
        "title": card.title,
        "fields": [{"label": f.label, "value": f.value} for f in card.fields],
        "buttons": [{"action": b.action, "label": b.label, "value": b.value} for b in card.buttons],
    }


def _content_key(event: str, ref: str, payload: dict[str, Any]) -> str:
    """The same update sent twice carries the same key, so the receiver can drop the repeat."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    return f"{event}:{ref}:{digest}"


def _receiver_id(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    ref = data.get("id") if isinstance(data, dict) else None
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        return None
    return str(ref) or None


def _retry_after(value: str | None, *, now: float) -> float | None:
    """Retry-After is delay-seconds or an HTTP-date (RFC 9110 §10.2.3); None if absent/garbled."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # asctime form and "-0000" carry no zone: HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
