"""Between `start` and `stop` the Slack adapter keeps one HTTP session for every outbound call.

A loopback server that counts TCP connections stands in for Slack: the Web API answers
`chat.postMessage`, any other path is a response_url. Each test runs on its own event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import ReplyTarget
from adapters.slack import SlackAdapter
from handlers.types import Recipient, Reply

HR = Recipient(platform="slack", address="C0HR00001", is_group=True)


class CountingSlack:
    """HTTP/1.1 with keep-alive, just enough for slack_sdk's clients."""

    def __init__(self, *, hang_up_after: int = 0) -> None:
        self.connections = 0
        self.requests = 0
        self.paths: list[str] = []
        self.hang_up_after = hang_up_after
        """When > 0: close each connection after this many answers, without saying so (as a
        server drops an idle kept-alive connection)."""
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
        answered = 0
        while request_line := await reader.readline():
            self.paths.append(request_line.split()[1].decode())
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
            answered += 1
            if answered == self.hang_up_after:
                break
        writer.close()


def _adapter(server: CountingSlack, client: AsyncWebClient | None = None) -> SlackAdapter:
    return SlackAdapter(
        bot_token="xoxb-test",
        signing_secret="secret",
        api_base_url=server.url + "api/",
        client=client,
    )


def _asked(server: CountingSlack, path: str = "r/1") -> ReplyTarget:
    """A slash command's reply target: the answer goes to its response_url."""
    return ReplyTarget(
        platform="slack",
        conversation_id="D1",
        user_id="U1",
        is_direct=True,
        extra={"response_url": server.url + path},
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


def test_answers_from_a_thread_keep_one_connection_per_thread() -> None:
    """`reply_blocking` (handler threads) keeps its connection alive between answers, one per
    thread: threads never share one."""

    async def scenario() -> None:
        async with CountingSlack() as server:
            adapter = _adapter(server)

            def answer_three() -> None:
                for n in range(3):
                    assert adapter.reply_blocking(_asked(server), Reply(text=f"answer {n}"))

            await asyncio.to_thread(answer_three)
            assert (server.requests, server.connections) == (3, 1)
            together = threading.Barrier(2, timeout=10)

            def answer_three_together() -> None:
                together.wait()  # two threads at once: one may not run both in turn
                answer_three()

            await asyncio.gather(
                asyncio.to_thread(answer_three_together), asyncio.to_thread(answer_three_together)
            )
            assert server.requests == 9 and server.connections in (2, 3)
            await adapter.stop()

    asyncio.run(scenario())


def test_an_answer_on_a_connection_the_server_dropped_is_sent_on_a_new_one() -> None:
    async def scenario() -> None:
        async with CountingSlack(hang_up_after=1) as server:
            adapter = _adapter(server)

            def answer_twice() -> None:
                for n in range(2):
                    assert adapter.reply_blocking(_asked(server), Reply(text=f"answer {n}"))

            await asyncio.to_thread(answer_twice)
            assert (server.requests, server.connections) == (2, 2)

    asyncio.run(scenario())


def test_a_response_url_from_a_thread_is_sent_quoted_as_aiohttp_sends_it() -> None:
    async def scenario() -> None:
        async with CountingSlack() as server:
            adapter = _adapter(server)
            target = _asked(server, "r/a b%2F?x=1&y=%2F")
            await adapter.reply(target, Reply(text="from the loop"))
            assert await asyncio.to_thread(adapter.reply_blocking, target, Reply(text="thread"))
            [(on_loop, _), (from_thread, query)] = [p.split("?") for p in server.paths]
            assert from_thread == on_loop == "/r/a%20b%2F"
            assert query == "x=1&y=%2F"  # escaped already: not escaped again
            await adapter.stop()

    asyncio.run(scenario())
