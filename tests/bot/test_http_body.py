"""Bodies that never arrive whole: a client gone mid-body, a slowloris trickle (issue 15 item 1).

Raw sockets against a running runtime on loopback, as a dropped phone or an attacker would.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot.http_body
from adapters.wecom import WeComAdapter
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
