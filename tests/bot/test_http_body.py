"""Bodies that never arrive whole: a client gone mid-body, a slowloris trickle (issue 15 item 1).

Raw sockets against a running runtime on loopback, as a dropped phone or an attacker would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot.http_body
from adapters.wecom import WeComAdapter
from bot.http_body import BodyNotRead, read_body
from storage.db import make_engine, upgrade
from tests.support.company import make_app
from tests.support.live import LiveRuntime
from tests.support.wecom import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveRuntime]:
    monkeypatch.setattr(bot.http_body, "BODY_READ_SECONDS", 1.0)
    engine = make_engine(f"sqlite:///{tmp_path}/coverwatch.db")
    upgrade(engine)
    wecom = WeComAdapter(
        corp_id=CORP_ID,
        secret=SECRET,
        agent_id=AGENT_ID,
        token=TOKEN,
        encoding_aes_key=AES_KEY,
        api_base_url="http://127.0.0.1:9/api/",
    )
    with LiveRuntime(make_app(engine), {"wecom": wecom}) as running:
        yield running
    engine.dispose()


def _partial(live: LiveRuntime) -> socket.socket:
    """A POST that promises 1,000 bytes and sends 10."""
    sock = socket.create_connection(("127.0.0.1", live.port), timeout=10)
    head = (
        "POST /wecom/callback?msg_signature=0&timestamp=0&nonce=0 HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n"
    )
    sock.sendall(head.encode() + b"<xml><Encr")
    return sock


def test_a_client_gone_mid_body_is_one_debug_line_without_a_traceback(
    live: LiveRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _partial(live).close()
    deadline = time.monotonic() + 5
    while "went away mid-body" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # anything else the server logs about it would come now
    gone = [r for r in caplog.records if "mid-body" in r.getMessage()]
    assert [(r.levelno, r.name) for r in gone] == [(logging.DEBUG, "bot.http_body")]
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    assert live.get("/healthz").status_code == 200


def test_a_body_trickling_in_is_cut_off_with_408(live: LiveRuntime) -> None:
    """A slowloris client holds its connection for `BODY_READ_SECONDS` (1 s here), no longer."""
    started = time.monotonic()
    with _partial(live) as sock:
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < 5


async def _never() -> dict[str, object]:
    """An ASGI `receive` whose client sent the headers and nothing more."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def _whole() -> dict[str, object]:
    return {"type": "http.request", "body": b"ok", "more_body": False}


def test_only_the_overdue_read_is_cut_off_and_every_read_is_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One timer for every body being read (`_Reads`): a read past its deadline gets 408 and
    its task is not left cancelled; one within its deadline is not touched."""
    monkeypatch.setattr(bot.http_body, "SWEEP_SECONDS", 0.01)

    async def overdue() -> int:
        with pytest.raises(BodyNotRead) as refused:
            await read_body(_never, "10", 100, "/x", timeout=0.02)
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0
        return refused.value.status

    async def patient() -> bytes:
        read = read_body(_never, "10", 100, "/x", timeout=60)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.1):  # outlives the other read's deadline
                await read
        return await read_body(_whole, "2", 100, "/x")

    async def scenario() -> None:
        assert await asyncio.gather(overdue(), patient()) == [408, b"ok"]
        reads = bot.http_body._READS[asyncio.get_running_loop()]
        assert (reads.due, reads.expired) == ({}, set())
        await asyncio.sleep(0.05)
        assert not reads.sweeping  # nothing being read: no timer left

    asyncio.run(scenario())


def test_a_cancelled_read_stays_cancelled() -> None:
    """A server stopping cancels what it serves: that is no 408."""

    async def scenario() -> None:
        reading = asyncio.ensure_future(read_body(_never, "10", 100, "/x"))
        await asyncio.sleep(0)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        assert bot.http_body._READS[asyncio.get_running_loop()].due == {}

    asyncio.run(scenario())
