"""WeCom (企业微信) as a `ChatAdapter` and `HttpReceiver`: encrypted callbacks in, app messages out.

Inbound: `GET /wecom/callback` (URL verification) and `POST /wecom/callback` (encrypted XML).
WeCom waits 5 s and then retries (3 tries in all), so we verify, decrypt, hand the event to
the sink (which stores it) and answer an empty 200; the reply goes out later through
`message/send`. Docs: https://developer.work.weixin.qq.com/document/path/90238
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from adapters.base import (
    DeliveryError,
    HttpRequest,
    HttpResponse,
    HttpRoute,
    InboundSink,
    MessageNotEditable,
    RateLimit,
    ReplyTarget,
    refusal,
)
from adapters.wecom import render
from adapters.wecom.callback import (
    PLATFORM,
    CallbackCrypto,
    CallbackRejected,
    MalformedCallback,
    event_of,
)
from adapters.wecom.client import WeComClient
from handlers.types import Attachment, Recipient, Reply

log = logging.getLogger(__name__)

PUBLIC_API_BASE_URL = "https://qyapi.weixin.qq.com/cgi-bin/"
CALLBACK_PATH = "/wecom/callback"


class WeComAdapter:
    """One WeCom self-built app (自建应用): its callback secrets and its API credentials."""

    name: str = PLATFORM
    # https://developer.work.weixin.qq.com/document/path/90454 (访问频率限制):
    # "每应用对同一个成员不可超过30次/分钟，1000次/小时，超过部分会被丢弃不下发" - the excess
    # is dropped silently, so the outbox must stay under it; "每企业调用单个cgi/api不可超过
    # 1万次/分，15万次/小时" for the other calls (update_template_card, media/upload). The
    # per-app daily quota (account limit x 200 person-times) is far above alert volumes.
    rate_limits: tuple[RateLimit, ...] = (
        RateLimit(scope="recipient", count=30, seconds=60),
        RateLimit(scope="recipient", count=1000, seconds=3600),
        RateLimit(scope="app", count=10_000, seconds=60),
        RateLimit(scope="app", count=150_000, seconds=3600),
    )

    def __init__(
        self,
        *,
        corp_id: str,
        secret: str,
        agent_id: int,
        token: str,
        encoding_aes_key: str,
        hr_groups: Sequence[str] = (),
        api_base_url: str = PUBLIC_API_BASE_URL,
        clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
    ) -> None:
        self._callbacks = CallbackCrypto(token, encoding_aes_key, corp_id, clock)
        self._client = WeComClient(corp_id, secret, api_base_url=api_base_url, timeout=timeout)
        self._agent_id = agent_id
        self._sink: InboundSink | None = None
        self.hr_recipients = tuple(
            Recipient(platform=PLATFORM, address=chat_id, is_group=True) for chat_id in hr_groups
        )

    async def start(self, sink: InboundSink) -> None:
        self._sink = sink

    async def stop(self) -> None:
        self._sink = None
        self._client._http.close()

    def routes(self) -> tuple[HttpRoute, ...]:
        """URL verification (GET) and messages and card clicks (POST) on one callback URL."""
        return (HttpRoute(path=CALLBACK_PATH, methods=("GET", "POST"), handler=self.handle_http),)

    async def handle_http(self, request: HttpRequest) -> HttpResponse:
        try:
            if request.method in ("GET", "HEAD"):
                # HEAD is GET without the content (RFC 9110 §9.3.2); the server drops the body.
                echo = self._callbacks.verify_url(request.query)
                return HttpResponse(
                    status=200, body=echo.encode(), headers={"content-type": "text/plain"}
                )
            if request.method != "POST":
                return HttpResponse(status=405)
            # AES and the inner parse are CPU work: off the event loop (issue 15).
            fields = await asyncio.to_thread(self._callbacks.decrypt, request.query, request.body)
        except MalformedCallback as exc:
            log.warning("WeCom callback malformed: %s", exc)
            return HttpResponse(status=400)
        except CallbackRejected as exc:
            log.warning("WeCom callback refused: %s", exc)
            return HttpResponse(status=403)
        event = event_of(fields)
        if event is None:
            return HttpResponse(status=200)
        if self._sink is None:  # not started: let WeCom retry rather than lose the message
            return HttpResponse(status=503)
        # Stored before the 200: WeCom calls again when it has no answer in 5 s, 3 tries in all
        # (docs above), so an event the sink cannot take (database down, backlog full) is
        # answered 503 and comes back.
        admission = await self._sink(
            event,
            ReplyTarget(
                platform=PLATFORM,
                conversation_id=event.conversation_id,
                user_id=event.user_id,
                is_direct=True,
            ),
            platform_retries=True,
        )
        return HttpResponse(status=200) if admission.taken else refusal(admission)

    async def reply(self, target: ReplyTarget, reply: Reply) -> None:
        recipient = Recipient(
            platform=PLATFORM, address=target.conversation_id, is_group=not target.is_direct
        )
        await asyncio.to_thread(self._deliver, recipient, reply, f"reply:{target.user_id}")

    async def send(self, recipient: Recipient, reply: Reply, *, key: str) -> str:
        return await asyncio.to_thread(self._deliver, recipient, reply, key)

    async def update(self, message_ref: str, reply: Reply) -> None:
        """Grey out the card's buttons with who acknowledged (one use per ResponseCode, 72 h).

        https://developer.work.weixin.qq.com/document/path/94888 (更新按钮为不可点击状态): the
        button is all that changes, so it shows the reply's conclusion (`render.settled_label`).
        """
        card = render.parse_card_ref(message_ref)
        if card is None:
            raise MessageNotEditable("only WeCom button cards can be updated")
        user_id, response_code = card
        data = {
            "userids": [user_id],
            "agentid": self._agent_id,
            "response_code": response_code,
            "button": {"replace_name": render.settled_label(reply)},
        }
        post = partial(self._client.post, "message/update_template_card", data=data)
        await asyncio.to_thread(self._client.call, post)

    def _deliver(self, recipient: Recipient, reply: Reply, key: str) -> str:
        """Blocking: send every part of `reply`; the ref of the first part names the delivery."""
        if recipient.is_group:
            for message in _group_messages(reply):
                self._post_to_chat(recipient.address, message)
            for attachment in reply.attachments:
                self._post_to_chat(recipient.address, self._upload(attachment))
            return render.chat_ref(recipient.address)
        refs = [self._post_to_user(recipient.address, m) for m in _user_messages(reply, key)]
        for attachment in reply.attachments:
            self._post_to_user(recipient.address, self._upload(attachment))
        return refs[0]

    def _post_to_user(self, user_id: str, message: dict[str, Any]) -> str:
        send = partial(self._client.message.send, self._agent_id, user_id, msg=message)
        result: dict[str, Any] = self._client.call(send)
        # A send to members outside the app's range still answers errcode 0 and lists them.
        refused = {*_ids(result, "invaliduser"), *_ids(result, "unlicenseduser")}
        if user_id in refused:
            raise DeliveryError(f"WeCom user {user_id} cannot receive this app", permanent=True)
        if result.get("response_code"):
            return render.card_ref(user_id, result["response_code"])
        return render.message_ref(str(result.get("msgid", "")))

    def _post_to_chat(self, chat_id: str, message: dict[str, Any]) -> None:
        msgtype = message["msgtype"]
        send = partial(self._client.appchat.send, chat_id, msgtype, **message[msgtype])
        self._client.call(send)

    def _upload(self, attachment: Attachment) -> dict[str, Any]:
        media = (attachment.filename, attachment.content, attachment.mime_type)
        upload = partial(self._client.media.upload, "image", media)
        result: dict[str, Any] = self._client.call(upload)
        return render.image_message(result["media_id"])


def _user_messages(reply: Reply, key: str) -> list[dict[str, Any]]:
    card = reply.card
    if card is not None and card.buttons:
        return [render.template_card(card, task_id=_task_id(key))]
    if card is not None:
        return render.markdown_messages(reply, card, with_text=False)
    return render.text_messages(reply.text)


def _group_messages(reply: Reply) -> list[dict[str, Any]]:
    if reply.card is None:
        return render.text_messages(reply.text)
    return render.markdown_messages(reply, reply.card, with_text=bool(reply.card.buttons))


def _task_id(key: str) -> str:
    """Unique per send (WeCom refuses a reused task_id, 42014); the digest ties it to `key`."""
    return f"cw-{hashlib.sha256(key.encode()).hexdigest()[:16]}-{secrets.token_hex(6)}"


def _ids(result: dict[str, Any], field: str) -> list[str]:
    value = result.get(field, "")
    return value.split("|") if isinstance(value, str) else [str(v) for v in value]
