"""`adapters.loop_http` beyond the wire that `test_http_wire` holds both clients to: several
POSTs in flight at once on one loop, on at most `per_origin` connections."""

from __future__ import annotations

import asyncio
import http.client

from adapters.loop_http import LoopConnections
from tests.support.scripted_http import JSON, Answer, OnLoop, ScriptedServer


def test_several_posts_are_in_flight_at_once() -> None:
    # The first answer comes only once all three requests arrived: sent one after the other,
    # the first would never be answered.
    answers = [Answer(after=3), Answer(after=3), Answer()]
    client = OnLoop(timeout=10)
    try:
        with ScriptedServer(answers) as server:
            sent = [client.start(f"{server.url}/r/{n}", b"{}", JSON) for n in range(3)]
            assert [answer.result(10).body for answer in sent] == ["ok", "ok", "ok"]
        assert server.connections == 3
    finally:
        client.close()


def test_posts_past_the_pool_wait_for_a_connection_and_reuse_it() -> None:
    answers = [Answer(after=2), Answer(after=2), Answer(), Answer()]
    client = OnLoop(timeout=10, per_origin=2)
    try:
        with ScriptedServer(answers) as server:
            sent = [client.start(f"{server.url}/r/{n}", b"{}", JSON) for n in range(4)]
            assert [answer.result(10).body for answer in sent] == ["ok"] * 4
        assert (len(server.requests), server.connections) == (4, 2)
    finally:
        client.close()


def test_closing_fails_what_is_in_flight() -> None:
    client = OnLoop(timeout=10)
    with ScriptedServer([Answer(b"", then="hold")]) as server:
        sent = client.start(server.url, b"{}", JSON)
        while not server.requests:  # on its way: the server holds it unanswered
            pass
        client.close_connections()
        assert isinstance(sent.exception(10), OSError | http.client.HTTPException)
    client.close()


def test_a_client_used_again_on_a_new_loop_opens_new_connections() -> None:
    """A test's `asyncio.run` each time: the kept connections belong to a loop that ended."""
    client = LoopConnections(timeout=10)

    async def post(url: str) -> str:
        return (await client.post(url, b"{}", JSON)).body

    with ScriptedServer([Answer(), Answer()]) as server:
        assert asyncio.run(post(f"{server.url}/r/1")) == "ok"
        assert asyncio.run(post(f"{server.url}/r/2")) == "ok"
    assert server.connections == 2
