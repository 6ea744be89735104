"""The Slack adapter: inbound over HTTP (our Request URL) or Socket Mode (slack-bolt's
`AsyncApp`), Web API out.

Every HTTP request is verified before anything parses it (401 on a bad or stale signature), then
routed without Bolt (`adapters/slack/request_url.py`); the runtime mounts the route `routes()`
declares, turning its request into an `HttpRequest`.
Between `start` and `stop` every outbound call (Web API and response_url) goes through one
aiohttp session and its keep-alive connections: slack_sdk's clients without a session open a
new session and TCP connection per call (docs/PERFORMANCE.md, chat_http and fanout_10k).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from functools import partial
from http.client import HTTPException
from time import time
from typing import Literal
from urllib.parse import urlencode

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.proxy_env_variable_loader import load_http_proxy_from_env
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook import WebhookResponse

from adapters.base import (
    Admission,
    DeliveryError,
    HttpRequest,
    HttpResponse,
    HttpRoute,
    InboundSink,
    RateLimit,
    ReplyTarget,
)
from adapters.blocking_http import ThreadConnections
from adapters.health import LinkState
from adapters.http_wire import Response
from adapters.loop_http import LoopConnections
from adapters.slack.blocks import Block, card_blocks, escape
from adapters.slack.errors import check_webhook, delivery_errors
from adapters.slack.inbound import PLATFORM, register
from adapters.slack.request_url import UnreadableBody, parse, route
from adapters.slack.verification import is_signed, verifier
from handlers.types import Action, Attachment, Message, Recipient, Reply

PUBLIC_API_BASE_URL = "https://slack.com/api/"
_JSON = {"Content-Type": "application/json;charset=utf-8"}
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_STALE_CONNECTION = (
    aiohttp.ServerConnectionError,
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientOSError,
)
"""What slack_sdk's `AsyncConnectionErrorRetryHandler` retries once."""
EVENTS_PATH = "/slack/events"


class SlackAdapter:
    """Slack for coverwatch: `/coverwatch`, @mentions, DMs, alert cards with buttons.

    An injected `client` (an `AsyncWebClient`) replaces `bot_token` and `api_base_url`.
    """

    name = PLATFORM
    # chat.postMessage: "generally allow an app to post 1 message per second to a specific
    # channel" (https://docs.slack.dev/reference/methods/chat.postMessage#rate_limiting).
    rate_limits: tuple[RateLimit, ...] = (RateLimit(scope="recipient", count=1, seconds=1.0),)

    def __init__(
        self,
        *,
        bot_token: str,
        signing_secret: str = "",
        app_token: str = "",
        mode: Literal["http", "socket"] = "http",
        hr_groups: Sequence[str] = (),
        api_base_url: str = PUBLIC_API_BASE_URL,
        clock: Callable[[], float] = time,
        client: AsyncWebClient | None = None,
    ) -> None:
        if mode == "http" and not signing_secret:
            raise ValueError("slack: HTTP mode needs the signing secret")
        if mode == "socket" and not app_token:
            raise ValueError("slack: Socket Mode needs an app-level token (xapp-…)")
        self.mode = mode
        self.hr_groups = tuple(hr_groups)
        self._app_token = app_token
        self._client = client or AsyncWebClient(
            token=bot_token, base_url=api_base_url.rstrip("/") + "/"
        )
        # Over HTTP, `handle_http` verifies the raw body, then routes it (no Bolt).
        self._verifier = verifier(signing_secret, clock) if mode == "http" else None
        self._sink: InboundSink | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._dm_channels: dict[str, str] = {}
        self._auth: asyncio.Future[AsyncSlackResponse] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._proxy = load_http_proxy_from_env()
        self._thread_http = ThreadConnections(timeout=self._client.timeout)
        """response_url answers sent from handler threads (`reply_blocking`)."""
        self._loop_http = LoopConnections(timeout=self._client.timeout)
        """response_url answers sent from a handler worker's loop (`reply_soon`)."""

    # -- inbound -------------------------------------------------------------------------

    def link_state(self) -> LinkState:
        """Socket Mode's WebSocket (`adapters.health.LinkProbe`); HTTP mode has no link: Slack
        calls /slack/events."""
        if self.mode != "socket":
            return LinkState(up=True, detail="HTTP mode (no persistent connection)")
        client = self._socket.client if self._socket is not None else None
        if client is None:
            return LinkState(up=False, detail="not started")
        session = client.current_session
        up = not client.closed and not client.stale and session is not None and not session.closed
        return LinkState(up=up, detail="connected" if up else "socket closed, reconnecting")

    async def start(self, sink: InboundSink) -> None:
        self._sink = sink
        self._session()
        if self.mode == "socket" and self._socket is None:
            # slack_bolt/adapter/socket_mode/aiohttp: apps.connections.open, then the WebSocket.
            self._socket = AsyncSocketModeHandler(self._bolt_app(), self._app_token)
            await self._socket.connect_async()  # type: ignore[no-untyped-call]

    def _bolt_app(self) -> AsyncApp:
        """Socket Mode's Bolt app. Listeners run before the ack is sent
        (`process_before_response`): the sink stores each event first, and one it could not take
        is answered 503 instead of acked."""
        app = AsyncApp(
            client=self._client,
            request_verification_enabled=False,  # a WebSocket from Slack: nothing to sign
            process_before_response=True,
            name="coverwatch",
        )
        register(app, self._deliver, self._is_bot_im, events_retried=False)
        return app

    def _session(self) -> aiohttp.ClientSession:
        """The one session of every outbound call, opened on first use on the calling loop
        (`start`, or the first answer of a handler worker, which never starts receiving), with
        the timeout slack_sdk gives the session it would open per call; an injected client that
        brings a session keeps its own."""
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._client.timeout)
            )
            if self._client.session is None:
                self._client.session = self._http
        return self._http

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        self._sink = None
        if self._http is not None:
            if self._client.session is self._http:
                self._client.session = None
            await self._http.close()
            self._http = None
        self._thread_http.close()
        self._loop_http.close()

    def routes(self) -> tuple[HttpRoute, ...]:
        """One Request URL for events, the slash command and interactivity, as Bolt serves them;
        none in Socket Mode (Slack connects nowhere, and there is no signing secret)."""
        if self.mode != "http":
            return ()
        return (HttpRoute(path=EVENTS_PATH, methods=("POST",), handler=self.handle_http),)

    async def handle_http(self, request: HttpRequest) -> HttpResponse:
        if self.mode != "http":
            # Socket Mode has no Request URL, and no signing secret to verify one with.
            return HttpResponse(status=404)
        if request.method.upper() != "POST":
            return HttpResponse(status=405, headers={"allow": "POST"})
        if self._verifier is None or not is_signed(self._verifier, request):
            return HttpResponse(status=401)
        if self._sink is None:
            # Not started: let Slack retry later rather than drop the event.
            return HttpResponse(status=503)
        try:
            # Verified UTF-8 above; `route` answers as Bolt's AsyncApp did, without its dispatch.
            payload = parse(request.body.decode("utf-8"), request.headers.get("content-type"))
            return await route(
                payload,
                self._deliver,
                self._is_bot_im,
                self._bot_user_id,
                events_retried=True,
            )
        except UnreadableBody:
            # A signed body that is no Slack payload (Slack never sends one): refused, dispatch
            # nothing.
            return HttpResponse(status=400)

    async def _bot_user_id(self) -> str | None:
        """`auth.test` once (the token checked before the first event, as Bolt's single-team
        authorization did; its user id strips mentions); a failure is asked again next time."""
        if self._auth is None:
            self._auth = asyncio.ensure_future(self._client.auth_test())
        try:
            result = await asyncio.shield(self._auth)
        except Exception:
            self._auth = None
            raise
        user_id = result.get("user_id")
        return str(user_id) if user_id else None

    async def _deliver(
        self,
        event: Message | Action,
        reply_to: ReplyTarget,
        *,
        platform_retries: bool,
        answer_in_ack: bool = False,
    ) -> Admission:
        if self._sink is None:  # stopped meanwhile: refuse, so Slack retries what it can
            return Admission(taken=False, retry_after=1)
        return await self._sink(
            event, reply_to, platform_retries=platform_retries, answer_in_ack=answer_in_ack
        )

    # -- outbound ------------------------------------------------------------------------

    async def reply(self, target: ReplyTarget, reply: Reply) -> None:
        """Same conversation (and thread); personal answers asked in a channel stay ephemeral."""
        private, text, blocks = _content(target, reply)
        response_url = target.extra.get("response_url")
        self._session()
        with delivery_errors():
            if response_url:
                body = _response_body(private, text, blocks)
                check_webhook(await self._post_response_url(response_url, body))
            elif private:
                await self._client.chat_postEphemeral(
                    channel=target.conversation_id,
                    user=target.user_id,
                    text=text,
                    blocks=blocks or None,
                    thread_ts=target.thread,
                )
            else:
                await self._client.chat_postMessage(
                    channel=target.conversation_id,
                    text=text,
                    blocks=blocks or None,
                    thread_ts=target.thread,
                )
            if reply.attachments:
                # A file shared in a channel is seen by all; a private answer's chart goes to a DM.
                channel = await self._dm(target.user_id) if private else target.conversation_id
                thread = None if private else target.thread
                await self._upload(channel, reply.attachments, thread)

    def reply_blocking(self, target: ReplyTarget, reply: Reply) -> bool:
        """`reply` from a handler thread, for an answer to a response_url (slash commands and
        button clicks: nearly every answer over HTTP); False for the rest (`_answer_post`)."""
        post = _answer_post(target, reply, self._proxy)
        if post is None:
            return False
        with delivery_errors():
            _check_answer(post[0], self._thread_http.post(*post, _JSON))
        return True

    def reply_soon(
        self, target: ReplyTarget, reply: Reply, done: Callable[[Exception | None], object]
    ) -> bool:
        """`reply` started on the running loop (a handler worker's), for the answers
        `reply_blocking` sends; `done` is called once the response came."""
        post = _answer_post(target, reply, self._proxy)
        if post is None:
            return False
        with delivery_errors():
            sent = self._loop_http.post(*post, _JSON)
        sent.add_done_callback(partial(_answered, post[0], done))
        return True

    async def _post_response_url(self, url: str, body: dict[str, object]) -> WebhookResponse:
        """The POST slack_sdk's `AsyncWebhookClient` makes (its proxy from the environment,
        one retry when a kept-alive connection turns out closed), on the adapter's session:
        a client object per answer (user agent, proxy look-up, debug logging) cost a tenth of
        a chat command's CPU (docs/PERFORMANCE.md, chat_http)."""
        session = self._session()
        try:
            return await _post_json(session, url, body, self._proxy)
        except _STALE_CONNECTION:
            return await _post_json(session, url, body, self._proxy)

    async def send(self, recipient: Recipient, reply: Reply, *, key: str) -> str:
        """Post to an HR channel or DM a user; returns `"<channel>:<ts>"` for `update`."""
        self._session()
        with delivery_errors():
            if recipient.is_group or recipient.address in self.hr_groups:
                channel = recipient.address
            else:
                channel = await self._dm(recipient.address)
            posted = await self._client.chat_postMessage(
                channel=channel,
                text=escape(reply.text),
                blocks=card_blocks(reply.card) or None,
                # Message metadata carries the outbox key, so a sent alert can be recognised.
                # https://docs.slack.dev/messaging/message-metadata
                metadata={"event_type": "coverwatch_delivery", "event_payload": {"key": key}},
            )
            channel, ts = str(posted["channel"]), str(posted["ts"])
            if reply.attachments:
                await self._upload(channel, reply.attachments, ts)
        return f"{channel}:{ts}"

    async def update(self, message_ref: str, reply: Reply) -> None:
        """`chat.update` in place; an empty block list removes the old buttons."""
        channel, _, ts = message_ref.partition(":")
        self._session()
        with delivery_errors():
            await self._client.chat_update(
                channel=channel, ts=ts, text=escape(reply.text), blocks=card_blocks(reply.card)
            )

    async def _is_bot_im(self, user_id: str, channel_id: str) -> bool:
        """Is `channel_id` the bot's own IM with `user_id`? `conversations.open` names it
        (idempotent, cached per process; https://docs.slack.dev/reference/methods/conversations.open).
        The `D` prefix only says "a DM", maybe between two colleagues; when Slack cannot be
        asked, the answer is no: a personal answer then goes out ephemeral, never in the open."""
        if not channel_id.startswith("D"):
            return False
        known = self._dm_channels.get(user_id)
        if known is not None or not self._proxy:
            return channel_id == (known or await self._open_im(user_id))
        try:
            with delivery_errors():
                return channel_id == await self._dm(user_id)
        except DeliveryError:
            return False

    async def _open_im(self, user_id: str) -> str | None:
        """`conversations.open` on the loop client (`LoopConnections`), for a user's first
        command in this process: ~100 µs of CPU where slack_sdk over aiohttp took ~300, once
        for each of the benchmark's users in its measured window (docs/PERFORMANCE.md,
        session 8). Through a proxy from the environment `_dm` asks (aiohttp). The channel, or
        None when Slack did not name one (refused, rate-limited, unreachable)."""
        body = urlencode({"users": user_id}).encode()
        headers = {"Authorization": f"Bearer {self._client.token}", **_FORM}
        try:
            response = await self._loop_http.post(
                self._client.base_url + "conversations.open", body, headers
            )
            answer = json.loads(response.body)
        except (OSError, HTTPException, ValueError):
            return None
        if response.status != 200 or not isinstance(answer, dict) or answer.get("ok") is not True:
            return None
        channel = answer.get("channel")
        if not isinstance(channel, dict) or not isinstance(channel.get("id"), str):
            return None
        self._dm_channels[user_id] = channel["id"]
        return self._dm_channels[user_id]

    async def _dm(self, user_id: str) -> str:
        """The DM channel with a user (conversations.open is idempotent; cached per process)."""
        if user_id not in self._dm_channels:
            opened = await self._client.conversations_open(users=user_id)
            self._dm_channels[user_id] = str(opened["channel"]["id"])
        return self._dm_channels[user_id]

    async def _upload(
        self, channel: str, attachments: Sequence[Attachment], thread_ts: str | None
    ) -> None:
        # files.getUploadURLExternal + upload + files.completeUploadExternal, as files_upload_v2.
        for attachment in attachments:
            await self._client.files_upload_v2(
                channel=channel,
                content=attachment.content,
                filename=attachment.filename,
                title=attachment.filename,
                thread_ts=thread_ts,
            )


def _content(target: ReplyTarget, reply: Reply) -> tuple[bool, str, list[Block]]:
    """Whether the answer is private (personal answers asked in a channel stay ephemeral), and
    its escaped text and blocks: what `reply` and `reply_blocking` both send."""
    return reply.ephemeral and not target.is_direct, escape(reply.text), card_blocks(reply.card)


def _answer_post(target: ReplyTarget, reply: Reply, proxy: str | None) -> tuple[str, bytes] | None:
    """The response_url and body of an answer `reply_blocking` or `reply_soon` can send; None
    for the rest, which `reply` sends: the Web API and file uploads go through slack_sdk, and a
    proxy from the environment through aiohttp."""
    response_url = target.extra.get("response_url")
    if not response_url or reply.attachments or proxy:
        return None
    body = _response_body(*_content(target, reply))
    return response_url, json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _check_answer(url: str, sent: Response) -> None:
    """Raises the `DeliveryError` of a response_url refusing the answer."""
    check_webhook(
        WebhookResponse(url=url, status_code=sent.status, body=sent.body, headers=sent.headers)
    )


def _answered(
    url: str, done: Callable[[Exception | None], object], sent: asyncio.Future[Response]
) -> None:
    """`reply_soon`'s end: `done` with None, or the `DeliveryError` `reply` would raise."""
    try:
        with delivery_errors():
            _check_answer(url, sent.result())
    except (DeliveryError, asyncio.CancelledError) as error:
        done(error if isinstance(error, DeliveryError) else DeliveryError("slack: cancelled"))
        return
    done(None)


def _response_body(private: bool, text: str, blocks: list[Block]) -> dict[str, object]:
    """A response_url answer: a new message, shown to the asker alone when `private`.

    https://docs.slack.dev/interactivity/handling-user-interaction#message_responses
    """
    body: dict[str, object] = {
        "text": text,
        "response_type": "ephemeral" if private else "in_channel",
        "replace_original": False,
    }
    if blocks:
        body["blocks"] = blocks
    return body


async def _post_json(
    session: aiohttp.ClientSession, url: str, body: dict[str, object], proxy: str | None
) -> WebhookResponse:
    async with session.post(url, json=body, headers=_JSON, proxy=proxy) as response:
        return WebhookResponse(
            url=url,
            status_code=response.status,
            body=await response.text(),
            headers=dict(response.headers),
        )
