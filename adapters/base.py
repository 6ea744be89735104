"""What every platform adapter is: verify and parse inbound, send outbound, nothing else.

Adapters take a framework-free `HttpRequest` and return an `HttpResponse` (as Bolt's
`BoltRequest`/`BoltResponse`); the ASGI route in `bot/` is a thin shim. Verification happens
before parsing. Inbound events go to an `InboundSink` (the runtime), which deduplicates on
`event_id`, runs the handler in the background and calls `reply` with the answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from handlers.types import Action, Message, Recipient, Reply


@dataclass(frozen=True, kw_only=True)
class HttpRequest:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    """Header names in lower case."""
    body: bytes


@dataclass(frozen=True, kw_only=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ReplyTarget:
    """Where the answer to one inbound event goes (same channel/thread, session webhook…)."""

    platform: str
    conversation_id: str
    user_id: str
    is_direct: bool
    thread: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    """Platform specifics: Slack `response_url`, DingTalk `session_webhook` + `expires_ms`."""


@dataclass(frozen=True, kw_only=True)
class RateLimit:
    """A documented sending limit the outbox must stay under (token bucket per scope)."""

    scope: str
    """`recipient` (per user/channel/chat) or `app` (whole bot)."""
    count: int
    seconds: float


class InboundSink(Protocol):
    """The runtime's entry point; must return at once (work happens after the platform ack)."""

    def __call__(self, event: Message | Action, reply_to: ReplyTarget) -> None: ...


class DeliveryError(Exception):
    """A send failed. The outbox retries unless `permanent`; never before `retry_after` s."""

    def __init__(
        self, reason: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.permanent = permanent


class BatchDeliveryError(DeliveryError):
    """Part of a `send_many` failed: `delivered` (user -> ref) must not be sent again,
    `remaining` may be retried; users in neither were refused for good."""

    def __init__(
        self, cause: DeliveryError, *, delivered: Mapping[str, str], remaining: Sequence[str]
    ) -> None:
        super().__init__(str(cause), retry_after=cause.retry_after, permanent=cause.permanent)
        self.delivered = dict(delivered)
        self.remaining = tuple(remaining)


@runtime_checkable
class BatchSender(Protocol):
    """Optional adapter capability: one message to many people in few calls (DingTalk's
    batchSend takes 20 users per call); the dispatcher groups deliveries for it."""

    async def send_many(
        self, user_ids: Sequence[str], reply: Reply, *, key: str, locale: str | None = None
    ) -> dict[str, str]:
        """user id -> message ref; raises `BatchDeliveryError` on partial failure."""


class ChatAdapter(Protocol):
    name: str
    rate_limits: tuple[RateLimit, ...]

    async def start(self, sink: InboundSink) -> None:
        """Begin receiving (connect a stream, open a socket); HTTP adapters may do nothing."""

    async def stop(self) -> None: ...

    async def handle_http(self, request: HttpRequest) -> HttpResponse:
        """Verify first (401/403 and nothing done on failure), then parse and hand to the sink."""

    async def reply(self, target: ReplyTarget, reply: Reply) -> None:
        """Answer an inbound event in its conversation."""

    async def send(self, recipient: Recipient, reply: Reply, *, key: str) -> str:
        """Proactive message (alerts); returns the platform message ref; raises DeliveryError."""

    async def update(self, message_ref: str, reply: Reply) -> None:
        """Rewrite a sent card in place (after an acknowledgement)."""
