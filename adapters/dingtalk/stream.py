"""The Stream-mode connection: its own thread and event loop, backoff, watchdog, clean stop.

Why not `DingTalkStreamClient.start()` (0.24.3, dingtalk_stream/stream.py): it calls
`requests.post` without a timeout inside the event loop, retries on fixed 10 s / 3 s delays,
swallows `CancelledError` (so it cannot be stopped), and posts to `OPEN_CONNECTION_API`, a class
attribute fixed at import from `DINGTALK_OPENAPI_ENDPOINT` (dingtalk_stream/utils.py). So this
module drives the same protocol itself and keeps the SDK for what it does well: the client
holds the registered topic handlers, and `client.background_task` routes each frame, runs
our handler and sends the SDK's ack (and closes the socket on a SYSTEM `disconnect`).
`gateway_url` is honoured by posting `{gateway_url}/v1.0/gateway/connections/open` here, with
the SDK's own request body, so no environment variable or class attribute is touched.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from typing import Any
from urllib.parse import quote_plus

import httpx
import websockets
from dingtalk_stream import DingTalkStreamClient  # type: ignore[import-untyped]
from dingtalk_stream.version import VERSION_STRING  # type: ignore[import-untyped]

from adapters.health import LinkState

log = logging.getLogger(__name__)

OPEN_PATH = "/v1.0/gateway/connections/open"


class StreamConnection:
    """Keeps one Stream connection alive until `stop()`; safe to start from any event loop."""

    def __init__(
        self,
        client: DingTalkStreamClient,
        *,
        gateway_url: str,
        stall_seconds: float = 90.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        self._client = client
        self._open_url = gateway_url.rstrip("/") + OPEN_PATH
        self._stall_seconds = stall_seconds
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._frame_tasks: set[asyncio.Task[Any]] = set()
        self.connections = 0
        self.link = LinkState(up=False, detail="not connected yet")
        """Written by the stream thread, read by `/readyz` (one reference swap: no lock)."""
        """How many WebSocket sessions were opened (a reconnect adds one)."""

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._thread_main, name="dingtalk-stream", daemon=True
        )
        self._thread.start()
        self._started.wait()

    async def stop(self, timeout: float = 5.0) -> None:
        if self._thread is None or self._loop is None or self._task is None:
            return
        self._loop.call_soon_threadsafe(self._task.cancel)
        await asyncio.to_thread(self._thread.join, timeout)
        self._thread = None

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._task = loop.create_task(self._run())
        self._started.set()
        try:
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            leftovers = asyncio.all_tasks(loop)  # frames still being routed at stop()
            for task in leftovers:
                task.cancel()
            if leftovers:
                loop.run_until_complete(asyncio.wait(leftovers))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _run(self) -> None:
        self._client.pre_start()
        failures = 0
        async with httpx.AsyncClient(timeout=10.0) as http:
            while True:
                try:
                    endpoint = await self._open_connection(http)
                    async with websockets.connect(
                        endpoint, open_timeout=10, ping_interval=None, max_size=None
                    ) as websocket:
                        self.connections += 1
                        failures = 0
                        self.link = LinkState(up=True, detail="connected")
                        await self._pump(websocket)
                    self.link = LinkState(up=False, detail="reconnecting")
                except (OSError, httpx.HTTPError, websockets.WebSocketException, ValueError) as exc:
                    failures += 1
                    reason = f"connection failed ({type(exc).__name__})"
                    self.link = LinkState(up=False, detail=reason)
                    log.warning("dingtalk stream: %s", reason)
                await asyncio.sleep(self._backoff(failures))

    async def _open_connection(self, http: httpx.AsyncClient) -> str:
        """The SDK's `open_connection` body, async and with a timeout; returns the ws URL."""
        subscriptions = [
            {"type": "CALLBACK", "topic": topic} for topic in self._client.callback_handler_map
        ]
        body = {
            "clientId": self._client.credential.client_id,
            "clientSecret": self._client.credential.client_secret,
            "subscriptions": subscriptions,
            "ua": f"dingtalk-sdk-python/v{VERSION_STRING}-union",
            "localIp": "",
        }
        response = await http.post(self._open_url, json=body)
        response.raise_for_status()
        connection = response.json()
        return f"{connection['endpoint']}?ticket={quote_plus(connection['ticket'])}"

    async def _pump(self, websocket: Any) -> None:
        """Route frames until the socket closes or the watchdog finds it stalled."""
        self._client.websocket = websocket
        while True:
            try:
                raw = await asyncio.wait_for(websocket.recv(), self._stall_seconds)
            except TimeoutError:
                if await self._alive(websocket):
                    continue
                log.warning(
                    "dingtalk stream: no frame or pong for %ss, reconnecting", self._stall_seconds
                )
                websocket.transport.abort()  # no close handshake: the peer is not answering
                return
            except websockets.ConnectionClosed:
                log.info("dingtalk stream: connection closed, reconnecting")
                return
            try:
                frame = json.loads(raw)
            except ValueError:
                log.warning("dingtalk stream: dropped a frame that is not JSON")
                continue
            task = asyncio.create_task(self._client.background_task(frame))
            self._frame_tasks.add(task)
            task.add_done_callback(self._frame_tasks.discard)

    async def _alive(self, websocket: Any) -> bool:
        """A quiet connection is fine if it still answers a ping."""
        try:
            pong = await websocket.ping()
            await asyncio.wait_for(pong, self._stall_seconds)
        except (TimeoutError, websockets.ConnectionClosed):
            return False
        return True

    def _backoff(self, failures: int) -> float:
        """Exponential with full jitter; a clean disconnect (failures == 0) reconnects soon."""
        ceiling = min(self._backoff_max, self._backoff_base * 2**failures)
        return random.uniform(ceiling / 2, ceiling)
