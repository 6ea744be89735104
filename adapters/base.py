"""What an adapter is: capabilities it declares, and what each method raises.

An adapter is one platform and nothing else. It has some of these capabilities (as nonebot2's
drivers mix in what they can do): a `Sender` delivers proactive messages and rewrites them; a
`Receiver` takes events from the platform (a stream, a socket, stdin) and answers them; an
`HttpReceiver` is a receiver whose events arrive on HTTP routes it declares itself, which the
runtime mounts without knowing the platform (nonebot2's `HTTPServerSetup`); a
`BlockingReplier` can send some answers from a handler thread, off the event loop, and a
`LoopReplier` on the loop without waiting for them. An outbound-only webhook is a `Sender`; the
console is a `Receiver` and a `Sender`. One more capability lives in `adapters.health`: a
`LinkProbe` reports a persistent connection's state (for `/readyz`).

Routes take a framework-free `HttpRequest` and return an `HttpResponse` (as Bolt's
`BoltRequest`/`BoltResponse`); the ASGI shim in `bot/` is a few lines. Verification happens
before parsing. Inbound events go to an `InboundSink` (the runtime), which writes each one to
the inbound queue before the adapter acks it (a duplicate `event_id` is acked and dropped);
handler workers answer through `reply` later. What the sink did is an `Admission`: when it
could not keep the event (database down, or the backlog full) the adapter answers 503 with
`Retry-After`, so a platform that retries sends the event again; when the adapter said its ack
can carry an answer (`answer_in_ack`: a Slack slash command) and the backlog is full, the
admission holds the "busy" answer and the adapter puts it in the ack, in its platform's shape.
`tests/adapters/test_contract.py` holds every adapter to what is written here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
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


@dataclass(frozen=True, kw_only=True)
class Admission:
    """The sink's verdict on one event: `taken` (written, kept in the spool, a duplicate, or
    answered "busy"): ack it, with `answer` in the ack when there is one; else answer 503 with
    `Retry-After: retry_after` seconds."""

    taken: bool
    retry_after: int = 0
    answer: Reply | None = None
    """The answer the ack carries instead of one sent later (only when asked, `answer_in_ack`)."""


TAKEN = Admission(taken=True)


def refusal(admission: Admission) -> HttpResponse:
    """The HTTP answer to an event the sink could not take: the platform retries later."""
    return HttpResponse(status=503, headers={"retry-after": str(admission.retry_after)})


class InboundSink(Protocol):
    """The runtime's entry point; returns once the event is stored (well inside any platform's
    ack deadline), never raises. The handler runs later, on a worker.

    `platform_retries`: the platform sends the event again when not acked (Slack Events API
    over HTTP, WeCom callbacks). Such an event the sink may refuse (database down, backlog
    full); one from a platform that never retries it is kept in the local spool instead, or
    answered "busy": in `Admission.answer` when `answer_in_ack` (the platform shows the ack's
    body to the sender), else through `Receiver.reply`."""

    async def __call__(
        self,
        event: Message | Action,
        reply_to: ReplyTarget,
        *,
        platform_retries: bool,
        answer_in_ack: bool = False,
    ) -> Admission: ...


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


class MessageNotEditable(DeliveryError):
    """`update` was given a message its platform cannot edit (a DingTalk markdown message, a
    WeCom text or group message, a Slack message that is gone): permanent, nothing changed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, permanent=True)


@dataclass(frozen=True, kw_only=True)
class HttpRoute:
    """One inbound HTTP endpoint an adapter serves (path as in ARCHITECTURE.md §3)."""

    path: str
    methods: tuple[str, ...]
    handler: Callable[[HttpRequest], Awaitable[HttpResponse]]
    """Verify first: a forged or stale request is answered 401/403 and reaches no sink."""


class Adapter(Protocol):
    """What every adapter has, whatever its capabilities."""

    name: str
    """The platform id: `Message.platform`, `Recipient.platform`, the config section."""

    async def stop(self) -> None:
        """Let go of connections and threads; never raises; safe to call twice."""


@runtime_checkable
class Sender(Adapter, Protocol):
    """Capability: deliver proactive messages (alerts, digests) and rewrite them in place."""

    rate_limits: tuple[RateLimit, ...]
    """The platform's documented sending limits; the outbox stays under them."""

    async def send(self, recipient: Recipient, reply: Reply, *, key: str) -> str:
        """Deliver `reply`; returns the platform's message ref, which `update` accepts.

        `key` is the outbox idempotency key (stable across retries of one delivery).

        :raises DeliveryError: with `retry_after` (seconds) when the platform throttles (HTTP 429
            with Retry-After, WeCom 45009, DingTalk 90002); `permanent` when it refuses for good
            (unknown user or chat, no permission, bad request); otherwise transient (network,
            5xx), and the outbox retries with backoff.
        """

    async def update(self, message_ref: str, reply: Reply) -> None:
        """Rewrite a message `send` returned `message_ref` for (an alert after its acknowledgement).

        :raises MessageNotEditable: the platform cannot edit that message (permanent).
        :raises DeliveryError: as `send` does.
        """


@runtime_checkable
class Receiver(Adapter, Protocol):
    """Capability: receive chat events and answer them in their conversation."""

    async def start(self, sink: InboundSink) -> None:
        """Begin receiving (connect a stream, open a socket, read stdin); each verified event
        goes to `sink` exactly as the platform identifies it (`event_id` stable across the
        platform's redeliveries). Returns once receiving has started."""

    async def reply(self, target: ReplyTarget, reply: Reply) -> None:
        """Answer an inbound event in its conversation (thread, session webhook…).

        :raises DeliveryError: as `Sender.send` does; the runtime logs it (replies are not queued).
        """


@runtime_checkable
class BlockingReplier(Protocol):
    """Capability: a receiver that can send some answers from a handler thread, without the
    event loop (Slack's response_url answers); the others go through `Receiver.reply`."""

    def reply_blocking(self, target: ReplyTarget, reply: Reply) -> bool:
        """Send `reply` as `Receiver.reply` would, blocking; False, having sent nothing, when
        this answer must go through `reply` (the worker then sends it that way).

        :raises DeliveryError: as `Receiver.reply` does.
        """


@runtime_checkable
class LoopReplier(Protocol):
    """Capability: a receiver that can start sending some answers on the running event loop
    without a task or a wait (Slack's response_url answers); the others go through
    `Receiver.reply`."""

    def reply_soon(
        self, target: ReplyTarget, reply: Reply, done: Callable[[Exception | None], object]
    ) -> bool:
        """Start sending `reply` as `Receiver.reply` would; `done` is called on the loop once it
        went out (None) or failed (the `DeliveryError` `reply` would raise). False, having sent
        nothing and calling nothing, when this answer must go through `reply`.

        :raises DeliveryError: what cannot be sent at all (a malformed address).
        """


@runtime_checkable
class HttpReceiver(Receiver, Protocol):
    """A receiver whose platform calls us over HTTP (Slack Events API, WeCom callbacks)."""

    def routes(self) -> tuple[HttpRoute, ...]:
        """The routes to mount; empty when this configuration receives no HTTP (Socket Mode).

        Route handlers answer 401/403 to a forged or stale request (nothing reaches the sink),
        503 before `start` (the platform retries), 4xx to a malformed body; never raise.
        """


@runtime_checkable
class ChatAdapter(Sender, Receiver, Protocol):
    """A chat platform both ways: the Slack, DingTalk, WeCom and console adapters."""
