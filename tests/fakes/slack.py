"""A loopback fake of Slack: Web API, response_url, file uploads and the Socket Mode WebSocket.

Real HTTP and WebSocket on 127.0.0.1 (a random port, uvicorn in a thread with its own event
loop), so the adapter's slack-sdk clients talk to it exactly as to slack.com. It checks the
`Authorization: Bearer` token like Slack (HTTP 200 with `ok: false`, `not_authed` /
`invalid_auth`), records every call, can answer a call with an error or a 429 + Retry-After,
and can enforce chat.postMessage's 1 message/s per channel
(https://docs.slack.dev/reference/methods/chat.postMessage#rate_limiting).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.fakes.loopback import LoopbackServer, wait_started

BOT_USER_ID = "UBOT0001"
BOT_ID = "B0001"
TEAM_ID = "T0001"
_START_TIMEOUT = 10.0
_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "slack"
_HELLO = {
    key: value
    for key, value in json.loads((_FIXTURES / "socket_hello.json").read_text()).items()
    if key != "_source"
}


@dataclass(frozen=True, kw_only=True)
class ApiCall:
    method: str
    params: dict[str, Any]
    """Query, form and JSON body merged, as Slack reads them."""
    token: str | None
    answer: dict[str, Any]
    """What the fake answered (the JSON body)."""
    status: int
    """The HTTP status of that answer (429 when rate-limited)."""
    at: float
    """When the call arrived, on the fake's clock (spacing and Retry-After checks)."""


@dataclass(frozen=True, kw_only=True)
class _Failure:
    status: int
    error: str
    retry_after: int | None


class FakeSlack:
    """Use as a context manager; point `AsyncWebClient(base_url=fake.api_url)` at it."""

    def __init__(
        self,
        *,
        bot_token: str,
        app_token: str = "",
        enforce_channel_rate: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.enforce_channel_rate = enforce_channel_rate
        self.calls: list[ApiCall] = []
        self.responses: list[tuple[str, dict[str, Any]]] = []
        """(response_url id, JSON body) for every post to a response_url."""
        self.response_at: dict[str, float] = {}
        """When the last post to each response_url id arrived, on the fake's clock."""
        self.uploads: dict[str, bytes] = {}
        self.acks: list[dict[str, Any]] = []
        """Socket Mode acknowledgements (`{"envelope_id": …}`) as the client sent them."""
        self.users_by_email: dict[str, str] = {}
        """The workspace directory `users.lookupByEmail` answers from (email -> member id)."""
        self.hung: list[str] = []
        """response_url ids whose post was held without an answer (`hang_response`)."""
        self._hang: set[str] = set()
        self._slow: dict[str, float] = {}
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[_Failure]] = {}
        self._last_post: dict[str, float] = {}
        self._counter = 0
        self._tickets: set[str] = set()
        self._socket_open = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: asyncio.Queue[dict[str, Any]] | None = None
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
        # without it a keep-alive client waits ~40 ms per call (Nagle vs delayed ACK), as no
        # real Slack server makes it wait.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self._server = LoopbackServer(self._asgi(), timeout_graceful_shutdown=1)
        self._thread = threading.Thread(target=self._run, daemon=True)

    # -- test controls ---------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        """A loopback stand-in for `https://hooks.slack.com/...` response URLs."""
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def calls_to(self, method: str) -> list[ApiCall]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def fail_next(
        self, method: str, *, status: int = 200, error: str = "", retry_after: int | None = None
    ) -> None:
        """Answer the next call to `method` (or `response_url`) with this failure, once."""
        failure = _Failure(status=status, error=error or f"http_{status}", retry_after=retry_after)
        with self._lock:
            self._failures.setdefault(method, deque()).append(failure)

    def hang_response(self, name: str) -> None:
        """The next post to response_url `name` gets no answer until the fake stops (a sender
        killed mid-answer); it is recorded in `hung`, not in `responses`."""
        with self._lock:
            self._hang.add(name)

    def slow_response(self, name: str, seconds: float) -> None:
        """Posts to response_url `name` are answered (and recorded) `seconds` after they arrive
        (a slow Slack)."""
        with self._lock:
            self._slow[name] = seconds

    def wait_socket_open(self, timeout: float = 5.0) -> bool:
        return self._socket_open.wait(timeout)

    def push_envelope(
        self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool = False
    ) -> str:
        """Send one Socket Mode envelope down the open WebSocket; returns its envelope_id.

        Shape: https://docs.slack.dev/apis/events-api/using-socket-mode#events
        (slack_sdk/socket_mode/request.py reads the same keys).
        """
        if self._loop is None or self._outbox is None:
            raise RuntimeError("fake Slack is not running")
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "events_api":
            envelope |= {"retry_attempt": 0, "retry_reason": ""}
        self._loop.call_soon_threadsafe(self._outbox.put_nowait, envelope)
        return envelope_id

    def acked(self, envelope_id: str) -> bool:
        with self._lock:
            return any(ack.get("envelope_id") == envelope_id for ack in self.acks)

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        wait_started(self._server, self._thread, "fake Slack", _START_TIMEOUT)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop()
        self._thread.join(_START_TIMEOUT)
        self._sock.close()

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._outbox = asyncio.Queue()
        await self._server.serve(sockets=[self._sock])

    # -- the wire --------------------------------------------------------------------------

    def _asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                Route("/response/{name}", self._response_url, methods=["POST"]),
                Route("/upload/{file_id}", self._upload, methods=["POST"]),
                WebSocketRoute("/socket", self._socket),
            ]
        )

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        params: dict[str, Any] = dict(request.query_params)
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json") and body:
            params |= json.loads(body)
        elif content_type.startswith("application/x-www-form-urlencoded"):
            params |= dict(parse_qsl(body.decode()))
        authorization = request.headers.get("authorization", "")
        token = authorization.removeprefix("Bearer ") if authorization else None
        arrived = self._clock()
        status, answer, headers = self._dispatch(method, params, token)
        call = ApiCall(
            method=method, params=params, token=token, answer=answer, status=status, at=arrived
        )
        with self._lock:
            self.calls.append(call)
        return JSONResponse(answer, status_code=status, headers=headers)

    def _dispatch(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            failure = self._take_failure(method)
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token is None:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if token != expected:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if (
            failure is None
            and method == "chat.postMessage"
            and self._rate_limited(str(params.get("channel")))
        ):
            failure = _Failure(status=429, error="ratelimited", retry_after=1)
        if failure is not None:
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            return failure.status, {"ok": False, "error": failure.error}, headers
        if method == "users.lookupByEmail":
            # https://docs.slack.dev/reference/methods/users.lookupByEmail: error users_not_found
            member = self.users_by_email.get(str(params.get("email", "")).lower())
            if member is None:
                return 200, {"ok": False, "error": "users_not_found"}, {}
            return 200, {"ok": True, "user": {"id": member, "team_id": TEAM_ID}}, {}
        return 200, {"ok": True, **self._answer(method, params)}, {}

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        return queue.popleft() if queue else None

    def _rate_limited(self, channel: str) -> bool:
        if not self.enforce_channel_rate:
            return False
        now = self._clock()
        with self._lock:
            last = self._last_post.get(channel)
            if last is not None and now - last < 1.0:
                return True
            self._last_post[channel] = now
        return False

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._counter += 1
            serial = self._counter
        ts = f"{1_700_000_000 + serial}.{serial:06d}"
        match method:
            case "auth.test":
                return {
                    "url": "https://coverwatch-test.slack.com/",
                    "team": "Coverwatch Test",
                    "user": "coverwatch",
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "bot_id": BOT_ID,
                    "is_enterprise_install": False,
                }
            case "conversations.open":
                return {"channel": {"id": "D" + str(params["users"]).lstrip("UW")}}
            case "chat.postMessage" | "chat.update":
                channel = str(params["channel"])
                message_ts = ts if method == "chat.postMessage" else str(params["ts"])
                message = {"text": params.get("text"), "ts": message_ts, "bot_id": BOT_ID}
                return {"channel": channel, "ts": message_ts, "message": message}
            case "chat.postEphemeral":
                return {"message_ts": ts}
            case "apps.connections.open":
                ticket = uuid.uuid4().hex
                with self._lock:
                    self._tickets.add(ticket)
                return {"url": f"ws://127.0.0.1:{self.port}/socket?ticket={ticket}"}
            case "files.getUploadURLExternal":
                file_id = f"F{serial:08d}"
                upload_url = f"http://127.0.0.1:{self.port}/upload/{file_id}"
                return {"upload_url": upload_url, "file_id": file_id}
            case "files.completeUploadExternal":
                return {"files": json.loads(str(params["files"]))}
        return {}

    async def _response_url(self, request: Request) -> Response:
        name = request.path_params["name"]
        with self._lock:
            hang = name in self._hang
            self._hang.discard(name)
            if hang:
                self.hung.append(name)
        if hang:
            await asyncio.Event().wait()  # until the server stops and cancels this request
        with self._lock:
            slow = self._slow.get(name, 0.0)
        if slow:
            await asyncio.sleep(slow)
        # The body is read before the lock: a client may send it after the headers (http.client
        # does), and awaiting it while holding the lock would block this loop's other requests.
        body = json.loads(await request.body())
        with self._lock:
            self.responses.append((name, body))
            self.response_at[name] = self._clock()
            failure = self._take_failure("response_url")
        if failure is not None:
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            return PlainTextResponse(failure.error, status_code=failure.status, headers=headers)
        return PlainTextResponse("ok")

    async def _upload(self, request: Request) -> Response:
        content = await request.body()
        with self._lock:
            self.uploads[request.path_params["file_id"]] = content
        return PlainTextResponse(f"OK - {len(content)}")

    async def _socket(self, websocket: WebSocket) -> None:
        with self._lock:
            known = websocket.query_params.get("ticket") in self._tickets
        if not known or self._outbox is None:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        # https://docs.slack.dev/apis/events-api/using-socket-mode#connect
        await websocket.send_json(_HELLO)
        self._socket_open.set()
        pump = asyncio.create_task(self._pump(websocket, self._outbox))
        try:
            while True:
                ack = json.loads(await websocket.receive_text())
                with self._lock:
                    self.acks.append(ack)
        except WebSocketDisconnect:
            pass
        finally:
            self._socket_open.clear()
            pump.cancel()

    @staticmethod
    async def _pump(websocket: WebSocket, outbox: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            await websocket.send_json(await outbox.get())
