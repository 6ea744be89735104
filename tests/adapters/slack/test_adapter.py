"""Between `start` and `stop` the Slack adapter keeps one HTTP session for every outbound call.

A loopback server that counts TCP connections stands in for Slack: the Web API answers
`chat.postMessage`, any other path is a response_url. Each test runs on its own event loop.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import ReplyTarget
from adapters.slack import SlackAdapter
from handlers.types import Recipient, Reply

HR = Recipient(platform="slack", address="C0HR00001", is_group=True)


class CountingSlack:
    """HTTP/1.1 with keep-alive, just enough for slack_sdk's clients."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CountingSlack:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while request_line := await reader.readline():
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            self.requests += 1
            if b" /api/" in request_line:
                body = json.dumps({"ok": True, "channel": "C0HR00001", "ts": "1.000001"})
                kind = "application/json"
            else:
                body, kind = "ok", "text/plain"
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
            )
            await writer.drain()
        writer.close()


def _adapter(server: CountingSlack, client: AsyncWebClient | None = None) -> SlackAdapter:
    return SlackAdapter(
        bot_token="xoxb-test",
        signing_secret="secret",
        api_base_url=server.url + "api/",
        client=client,
    )


def _asked(server: CountingSlack) -> ReplyTarget:
    """A slash command's reply target: the answer goes to its response_url."""
    return ReplyTarget(
        platform="slack",
        conversation_id="D1",
        user_id="U1",
        is_direct=True,
        extra={"response_url": server.url + "r/1"},
    )


def test_sends_and_replies_share_one_connection_while_started() -> None:
    async def scenario() -> None:
        async with CountingSlack() as server:
            adapter = _adapter(server)
            await adapter.start(lambda event, reply_to: None)
            for n in range(3):
                await adapter.send(HR, Reply(text=f"alert {n}"), key=f"k{n}")
                await adapter.reply(_asked(server), Reply(text=f"answer {n}"))
            assert (server.requests, server.connections) == (6, 1)
            await adapter.stop()
            # Stopped, the adapter still works, one connection per call as slack_sdk does.
            await adapter.send(HR, Reply(text="after"), key="k9")
            assert (server.requests, server.connections) == (7, 2)

    asyncio.run(scenario())


def test_an_injected_client_keeps_its_own_session() -> None:
    async def scenario() -> None:
        async with CountingSlack() as server, aiohttp.ClientSession() as own:
            client = AsyncWebClient(token="xoxb-test", base_url=server.url + "api/", session=own)
            adapter = _adapter(server, client)
            await adapter.start(lambda event, reply_to: None)
            await adapter.send(HR, Reply(text="alert"), key="k1")
            await adapter.stop()
            assert client.session is own and not own.closed

    asyncio.run(scenario())
