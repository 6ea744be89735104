"""DingTalk adapter: Stream-mode inbound, session-webhook replies, robot OpenAPI and cards.

Inbound frames arrive on the stream thread and are handed to the sink on the event loop that
called `start()`, so the runtime never sees another thread; the frame is acked once the sink
has stored the event. DingTalk does not send a frame again once it was acked (it redelivers
only a frame whose ack is late, shared/reference/platforms.md), so the sink keeps what it cannot
write in its local spool. Outbound calls use httpx on the
caller's loop. Message refs: a card's `outTrackId` can be updated in place; plain robot messages
cannot be edited on DingTalk, so their ref (`processQueryKey`) is kept only for the record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

import httpx
from dingtalk_stream import Credential, DingTalkStreamClient  # type: ignore[import-untyped]

from adapters.base import (
    BatchDeliveryError,
    DeliveryError,
    InboundSink,
    MessageNotEditable,
    RateLimit,
    ReplyTarget,
)
from adapters.dingtalk import render
from adapters.dingtalk.inbound import (
    BOT_TOPIC,
    CARD_TOPIC,
    PLATFORM,
    FrameHandler,
    parse_bot_message,
    parse_card_callback,
)
from adapters.dingtalk.openapi import OpenApi
from adapters.dingtalk.outbound import CARD_PREFIX, Robot
from adapters.dingtalk.stream import StreamConnection
from adapters.health import LinkState
from core.locales import DEFAULT_LOCALE
from handlers.i18n import translate
from handlers.types import Action, Message, Recipient, Reply

log = logging.getLogger(__name__)

PUBLIC_API = "https://api.dingtalk.com"
PUBLIC_OAPI = "https://oapi.dingtalk.com"
_WEBHOOK_MARGIN_MS = 30_000


def oapi_url_for(api_base_url: str) -> str:
    """The old-style oapi host: the public one, or `api_base_url` when that is overridden (a
    private deployment or a test double serves both)."""
    return PUBLIC_OAPI if api_base_url == PUBLIC_API else api_base_url


class DingTalkAdapter:
    name = PLATFORM
    rate_limits: tuple[RateLimit, ...] = (
        # Server APIs: 20 calls/s per app (https://open.dingtalk.com/document/orgapp/invocation-frequency-limit).
        RateLimit(scope="app", count=20, seconds=1.0),
        # Robots: 20 messages/min per chat, then throttled
        # (https://open.dingtalk.com/document/orgapp/robot-message-frequency-limit).
        RateLimit(scope="recipient", count=20, seconds=60.0),
    )

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        robot_code: str,
        api_base_url: str = PUBLIC_API,
        gateway_url: str | None = None,
        oapi_base_url: str | None = None,
        card_template_id: str | None = None,
        locale: str = DEFAULT_LOCALE,
        stall_seconds: float = 90.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        clock: Callable[[], float] = time.time,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        """`gateway_url` defaults to `api_base_url`; `oapi_base_url` (old-style media upload and
        session webhooks) to the public oapi host, or to `api_base_url` when that is overridden."""
        self._client_id = client_id
        self._client_secret = client_secret
        self._gateway_url = gateway_url or api_base_url
        self._oapi = (oapi_base_url or oapi_url_for(api_base_url)).rstrip("/")
        self._card_template_id = card_template_id
        self._locale = locale
        self._stream_options = {
            "stall_seconds": stall_seconds,
            "backoff_base": backoff_base,
            "backoff_max": backoff_max,
        }
        self._clock = clock
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=10.0)
        api = OpenApi(
            client_id=client_id,
            client_secret=client_secret,
            base_url=api_base_url,
            http=self._http,
            clock=clock,
        )
        self._api = api
        self._robot = Robot(
            api, robot_code=robot_code, media_upload_url=self._oapi + "/media/upload"
        )
        self.stream: StreamConnection | None = None

    def link_state(self) -> LinkState:
        """The Stream connection's state (`adapters.health.LinkProbe`)."""
        if self.stream is None:
            return LinkState(up=False, detail="not started")
        return self.stream.link

    async def start(self, sink: InboundSink) -> None:
        loop = asyncio.get_running_loop()

        async def deliver(event: Message | Action, target: ReplyTarget) -> None:
            stored = asyncio.run_coroutine_threadsafe(
                sink(event, target, platform_retries=False), loop
            )
            admission = await asyncio.wrap_future(stored)
            if not admission.taken:
                log.error("dingtalk event %s could not be kept (spool full)", event.event_id)

        client = DingTalkStreamClient(Credential(self._client_id, self._client_secret), logger=log)
        client.register_callback_handler(BOT_TOPIC, FrameHandler(parse_bot_message, deliver))
        client.register_callback_handler(CARD_TOPIC, FrameHandler(parse_card_callback, deliver))
        self.stream = StreamConnection(
            client, gateway_url=self._gateway_url, **self._stream_options
        )
        self.stream.start()

    async def stop(self) -> None:
        if self.stream is not None:
            await self.stream.stop()
            self.stream = None
        if self._owns_http:
            await self._http.aclose()

    async def reply(self, target: ReplyTarget, reply: Reply) -> None:
        """Session webhook while it is valid, else the robot OpenAPI to the same chat.

        DingTalk has no ephemeral group message: a personal answer asked in a group goes to the
        asker in the robot's 1:1 chat (`oToMessages/batchSend`), and the group only learns that
        it was sent privately (issue 15 item 4: `缴费明细` in a group showed the amounts to all).
        """
        if reply.ephemeral and not target.is_direct:
            await self._robot.message(target.user_id, False, reply, self._locale)
            await self._robot.images(target.user_id, False, reply.attachments)
            notice = Reply(text=translate(self._locale, "privacy.sent_privately"))
            await self.reply(target, notice)
            return
        webhook = target.extra.get("session_webhook", "")
        expires_ms = int(target.extra.get("session_webhook_expires_ms", "0") or 0)
        fresh = self._clock() * 1000 < expires_ms - _WEBHOOK_MARGIN_MS
        address = target.user_id if target.is_direct else target.conversation_id
        sent = False
        if webhook and fresh and webhook.startswith(self._oapi + "/"):
            try:
                await self._api.post(webhook, render.webhook_body(reply, self._locale))
                sent = True
            except DeliveryError as exc:
                if not exc.permanent:
                    raise
                log.info("dingtalk session webhook refused, using the robot API: %s", exc)
        if not sent:
            await self._robot.message(address, not target.is_direct, reply, self._locale)
        await self._robot.images(address, not target.is_direct, reply.attachments)

    async def send(self, recipient: Recipient, reply: Reply, *, key: str) -> str:
        """Alert cards when a template is configured; otherwise (or if the card API refuses)
        a markdown message whose buttons are spelled out as commands (`确认 12`)."""
        ref = None
        template = self._card_template(reply)
        if template:
            try:
                ref = await self._robot.card(template, recipient, reply, key)
            except DeliveryError as exc:
                if not exc.permanent:
                    raise
                log.warning("dingtalk card for %s refused, sending markdown: %s", key, exc)
        if ref is None:
            ref = await self._robot.message(
                recipient.address, recipient.is_group, reply, recipient.locale
            )
        await self._robot.images(recipient.address, recipient.is_group, reply.attachments)
        return ref

    async def send_many(
        self, user_ids: Sequence[str], reply: Reply, *, key: str, locale: str | None = None
    ) -> dict[str, str]:
        """One message to many people: batchSend, ≤ 20 per call (see `Robot.many` for partial
        failures). An alert card has no batch API: each person gets their own card (outTrackId
        from `key` and the user, stable across retries), so its buttons are never lost.
        Attachments are not sent here: the dispatcher sends such replies one by one."""
        locale = locale or self._locale
        log.info("dingtalk send_many %s to %d users", key, len(user_ids))
        if not self._card_template(reply):
            return await self._robot.many(user_ids, reply, locale)
        delivered: dict[str, str] = {}
        for index, user in enumerate(user_ids):
            person = Recipient(platform=PLATFORM, address=user, is_group=False, locale=locale)
            try:
                delivered[user] = await self.send(person, reply, key=f"{key}:{user}")
            except DeliveryError as exc:
                if exc.permanent:
                    log.warning("dingtalk card for one of %s refused: %s", key, exc)
                    continue
                raise BatchDeliveryError(
                    exc, delivered=delivered, remaining=user_ids[index:]
                ) from exc
        return delivered

    def _card_template(self, reply: Reply) -> str | None:
        """The template to send `reply` as an interactive card with, if any: cards need one
        (set up once in the card builder) and buttons to be worth it."""
        return self._card_template_id if reply.card and reply.card.buttons else None

    async def update(self, message_ref: str, reply: Reply) -> None:
        """Rewrite a sent card (e.g. "acknowledged by …"); plain robot messages cannot be
        edited on DingTalk (no API takes a `processQueryKey`)."""
        if not message_ref.startswith(CARD_PREFIX):
            raise MessageNotEditable(f"dingtalk message {message_ref} is not a card")
        await self._robot.update_card(message_ref, reply)
