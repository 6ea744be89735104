"""A loopback DingTalk: the OpenAPI (uvicorn thread) and the Stream gateway (websockets thread).

Speaks the real wire protocol so the real `dingtalk-stream` client and our httpx calls run
unchanged: `POST /v1.0/gateway/connections/open` hands out a one-time ticket for the WebSocket,
frames are `{"specVersion","type","headers","data": "<JSON string>"}` and the client's acks are
checked (code 200, same messageId). Robot and card endpoints require a token issued by
`/v1.0/oauth2/accessToken` in `x-acs-dingtalk-access-token`; `throttle_next` (the next N calls)
or `calls_per_minute` (a rolling limit) makes them answer 90002. Every call is recorded.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.fakes.loopback import LoopbackServer

BOT_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    token: str | None
    body: Any


class FakeDingTalk:
    def __init__(
        self,
        *,
        client_id: str = "dingclient0001",
        client_secret: str = "fake-secret-0001",
        token_ttl: int = 7200,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.calls: list[Call] = []
        self.webhook_posts: list[dict[str, Any]] = []
        self.webhook_sessions: list[str] = []
        """The `session` of each webhook post, in the same order as `webhook_posts`."""
        self.batches: list[tuple[tuple[str, ...], str]] = []
        """Accepted batchSend calls: (userIds, the processQueryKey answered)."""
        self.throttled: list[Call] = []
        """Calls answered with 90002."""
        self.acks: list[dict[str, Any]] = []
        self.bad_acks: list[dict[str, Any]] = []
        self.subscriptions: list[dict[str, str]] = []
        self.connections = 0
        self.closed = 0
        self.throttle_next = 0
        self.calls_per_minute: int | None = None
        self.fail_next_opens = 0
        self.open_attempts = 0
        self._call_times: list[float] = []
        self.card_create_fails = False
        self.invalid_users: set[str] = set()
        self.users_by_mobile: dict[str, str] = {}
        """The directory `topapi/v2/user/getbymobile` answers from (mobile -> userid)."""
        self.cards: dict[str, dict[str, Any]] = {}
        self._tokens: set[str] = set()
        self._tickets: set[str] = set()
        self._sent_ids: set[str] = set()
        self._ws: ServerConnection | None = None
        self._ws_loop = asyncio.new_event_loop()
        self._ws_stop: asyncio.Future[None] | None = None
        self._ws_ready = threading.Event()
        self._http = LoopbackServer(self._app())
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.ws_url = ""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._ws_thread = threading.Thread(target=self._ws_main, daemon=True)
        self._ws_thread.start()
        self._http_thread = threading.Thread(
            target=self._http.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._http_thread.start()
        deadline = time.monotonic() + 5
        while not (self._http.started and self._ws_ready.is_set()):
            if time.monotonic() > deadline:
                raise RuntimeError("fake DingTalk did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._http.stop()
        self._http_thread.join(5)
        self._sock.close()
        if self._ws_stop is not None:
            self._ws_loop.call_soon_threadsafe(self._ws_stop.set_result, None)
        self._ws_thread.join(5)
        self._ws_loop.close()

    # -- stream side -----------------------------------------------------------------------

    def frame(
        self, topic: str, data: dict[str, Any], message_id: str, kind: str = "CALLBACK"
    ) -> dict[str, Any]:
        return {
            "specVersion": "1.0",
            "type": kind,
            "headers": {
                "appId": "fake-app",
                "connectionId": "fake-connection",
                "contentType": "application/json",
                "messageId": message_id,
                "time": str(int(time.time() * 1000)),
                "topic": topic,
            },
            "data": json.dumps(data, ensure_ascii=False),
        }

    def send_frame(self, frame: dict[str, Any]) -> None:
        """Push a frame to the connected client (from the test thread)."""
        ws = self._ws
        if ws is None:
            raise RuntimeError("no stream client connected")
        self._sent_ids.add(frame["headers"]["messageId"])
        future = asyncio.run_coroutine_threadsafe(ws.send(json.dumps(frame)), self._ws_loop)
        future.result(5)

    def disconnect(self) -> None:
        """DingTalk's SYSTEM `disconnect` frame: the client must reconnect."""
        self.send_frame(
            self.frame(
                "disconnect",
                {"reason": "server maintenance"},
                "sys-" + secrets.token_hex(4),
                kind="SYSTEM",
            )
        )

    def stall(self) -> None:
        """Stop reading from the client: frames, pings and acks go unanswered."""
        ws = self._ws
        assert ws is not None
        self._ws_loop.call_soon_threadsafe(ws.transport.pause_reading)

    def acks_for(self, message_id: str) -> list[dict[str, Any]]:
        return [a for a in self.acks if a["headers"].get("messageId") == message_id]

    def session_webhook(self) -> str:
        return f"{self.base_url}/robot/sendBySession?session={secrets.token_hex(8)}"

    def token_calls(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    def _ws_main(self) -> None:
        asyncio.set_event_loop(self._ws_loop)
        self._ws_loop.run_until_complete(self._ws_serve())

    async def _ws_serve(self) -> None:
        self._ws_stop = self._ws_loop.create_future()
        async with serve(
            self._ws_handler, "127.0.0.1", 0, ping_interval=None, close_timeout=0.5
        ) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            self.ws_url = f"ws://127.0.0.1:{port}/connect"
            self._ws_ready.set()
            await self._ws_stop

    async def _ws_handler(self, ws: ServerConnection) -> None:
        ticket = parse_qs(urlsplit(ws.request.path if ws.request else "").query).get(
            "ticket", [""]
        )[0]
        if ticket not in self._tickets:
            await ws.close(4001, "invalid ticket")
            return
        self._tickets.discard(ticket)
        self.connections += 1
        self._ws = ws
        try:
            async for raw in ws:
                ack = json.loads(raw)
                good = ack.get("code") == 200 and ack["headers"].get("messageId") in self._sent_ids
                (self.acks if good else self.bad_acks).append(ack)
        except ConnectionClosed:
            pass
        finally:
            self.closed += 1

    # -- HTTP side -------------------------------------------------------------------------

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1.0/oauth2/accessToken", self._token, methods=["POST"]),
                Route("/v1.0/gateway/connections/open", self._open, methods=["POST"]),
                Route("/robot/sendBySession", self._webhook, methods=["POST"]),
                Route("/v1.0/robot/oToMessages/batchSend", self._batch_send, methods=["POST"]),
                Route("/v1.0/robot/groupMessages/send", self._group_send, methods=["POST"]),
                Route("/v1.0/card/instances", self._card, methods=["POST", "PUT"]),
                Route("/v1.0/card/instances/deliver", self._card_deliver, methods=["POST"]),
                Route("/media/upload", self._media_upload, methods=["POST"]),
                Route("/topapi/v2/user/getbymobile", self._user_by_mobile, methods=["POST"]),
            ]
        )

    async def _token(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.calls.append(Call("POST", request.url.path, None, body))
        if (body.get("appKey"), body.get("appSecret")) != (self.client_id, self.client_secret):
            return _error(400, "invalidClientIdOrSecret")
        token = secrets.token_hex(16)
        self._tokens.add(token)
        return JSONResponse({"accessToken": token, "expireIn": self.token_ttl})

    async def _open(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.open_attempts += 1
        if self.fail_next_opens > 0:
            self.fail_next_opens -= 1
            return _error(503, "ServiceUnavailable")
        if (body.get("clientId"), body.get("clientSecret")) != (self.client_id, self.client_secret):
            return _error(401, "InvalidAuthentication")
        self.subscriptions = body.get("subscriptions", [])
        ticket = secrets.token_urlsafe(12)
        self._tickets.add(ticket)
        return JSONResponse({"endpoint": self.ws_url, "ticket": ticket})

    async def _webhook(self, request: Request) -> JSONResponse:
        self.webhook_posts.append(await request.json())
        self.webhook_sessions.append(request.query_params.get("session", ""))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def _batch_send(self, request: Request) -> JSONResponse:
        body, refusal = await self._authorized(request)
        if refusal:
            return refusal
        json.loads(body["msgParam"])  # must be a JSON string
        if not 1 <= len(body["userIds"]) <= 20:
            return _error(400, "invalidParameter.userIds")
        invalid = [u for u in body["userIds"] if u in self.invalid_users]
        key = secrets.token_hex(6)
        self.batches.append((tuple(body["userIds"]), key))
        return JSONResponse(
            {"processQueryKey": key, "invalidStaffIdList": invalid, "flowControlledStaffIdList": []}
        )

    async def _group_send(self, request: Request) -> JSONResponse:
        body, refusal = await self._authorized(request)
        if refusal:
            return refusal
        json.loads(body["msgParam"])
        return JSONResponse({"processQueryKey": secrets.token_hex(6)})

    async def _card(self, request: Request) -> JSONResponse:
        body, refusal = await self._authorized(request)
        if refusal:
            return refusal
        track = body["outTrackId"]
        if not all(isinstance(v, str) for v in body["cardData"]["cardParamMap"].values()):
            return _error(400, "param.cardParamMap")  # a Map<String, String>: lists go as JSON
        if request.method == "PUT":
            if track not in self.cards:
                return _error(404, "cardInstance.notFound")
            self.cards[track]["cardData"]["cardParamMap"].update(body["cardData"]["cardParamMap"])
        elif self.card_create_fails:
            return _error(400, "param.cardTemplateIdNotExist")
        else:
            self.cards[track] = body
        return JSONResponse({"success": True, "result": track})

    async def _card_deliver(self, request: Request) -> JSONResponse:
        body, refusal = await self._authorized(request)
        if refusal:
            return refusal
        if body["outTrackId"] not in self.cards:
            return _error(404, "cardInstance.notFound")
        space = body["openSpaceId"].rsplit(".", 1)[-1]
        result: dict[str, Any] = {"spaceId": space, "success": space not in self.invalid_users}
        if not result["success"]:
            result["errorMsg"] = "invalid userId"
        return JSONResponse({"success": True, "result": [result]})

    async def _media_upload(self, request: Request) -> JSONResponse:
        token = request.query_params.get("access_token")
        raw = await request.body()
        self.calls.append(Call("POST", request.url.path, token, raw))
        if token not in self._tokens:
            return JSONResponse({"errcode": 40014, "errmsg": "不合法的access_token"})
        if b'name="media"' not in raw:
            return JSONResponse({"errcode": 40005, "errmsg": "不合法的文件类型"})
        return JSONResponse(
            {"errcode": 0, "errmsg": "ok", "type": "image", "media_id": "@lAmedia01"}
        )

    async def _user_by_mobile(self, request: Request) -> JSONResponse:
        """Old-style oapi: token in the query, errors as HTTP 200 + errcode
        (https://open.dingtalk.com/document/orgapp/query-users-by-phone-number)."""
        token = request.query_params.get("access_token")
        body = await request.json()
        self.calls.append(Call("POST", request.url.path, token, body))
        if token not in self._tokens:
            return JSONResponse({"errcode": 40014, "errmsg": "不合法的access_token"})
        if self.throttle_next > 0:
            self.throttle_next -= 1
            self.throttled.append(self.calls[-1])
            return JSONResponse({"errcode": 90002, "errmsg": "服务器繁忙，请稍后重试"})
        userid = self.users_by_mobile.get(str(body.get("mobile", "")))
        if userid is None:
            return JSONResponse({"errcode": 60121, "errmsg": "找不到该用户"})
        return JSONResponse({"errcode": 0, "errmsg": "ok", "result": {"userid": userid}})

    async def _authorized(self, request: Request) -> tuple[dict[str, Any], JSONResponse | None]:
        token = request.headers.get("x-acs-dingtalk-access-token")
        body = await request.json()
        self.calls.append(Call(request.method, request.url.path, token, body))
        if token not in self._tokens:
            return body, _error(401, "InvalidAuthentication", "不合法的access_token")
        now = time.monotonic()
        self._call_times = [t for t in self._call_times if now - t < 60]
        over_limit = (
            self.calls_per_minute is not None and len(self._call_times) >= self.calls_per_minute
        )
        if self.throttle_next > 0 or over_limit:
            self.throttle_next = max(0, self.throttle_next - 1)
            self.throttled.append(self.calls[-1])
            return body, _error(400, "90002", "服务器繁忙，请稍后重试")
        self._call_times.append(now)
        return body, None


def _error(status: int, code: str, message: str = "") -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "requestid": "fake"}, status_code=status)
