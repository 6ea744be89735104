"""A 100 MB body costs a running `coverwatch run` no memory (issue 15 finding 2).

Before the cap an unsigned 100 MB POST peaked the server at ~970 MB RSS, four in parallel at
1.25 GB. Now one declared 100 MB body and four streamed ones (chunked: no length to refuse up
front) get 413 while the server's resident set grows less than 50 MB. Measured on the real
process: its peak (VmHWM) is reset through /proc/PID/clear_refs before the attack (Linux
proc(5), "5: reset the peak resident set size"), and read after it.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from storage.db import make_engine, upgrade
from tests.support.run import free_port, healthz, running, wait_for, write_config
from tests.support.wecom import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN

HUNDRED_MB = 100 * 1024 * 1024
CHUNK = 1024 * 1024
GROWTH_LIMIT_KB = 50 * 1024
WECOM = (
    f'[wecom]\nenabled = true\ncorp_id = "{CORP_ID}"\nsecret = "{SECRET}"\n'
    f'agent_id = {AGENT_ID}\ntoken = "{TOKEN}"\nencoding_aes_key = "{AES_KEY}"\n'
    'api_base_url = "http://127.0.0.1:9/cgi-bin/"\n'  # nothing listens: no message leaves
    "[chat]\nworkers = 0\n"
)
CALLBACK = "/wecom/callback?msg_signature=0&timestamp=0&nonce=0"


def _kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/{pid}/status")


def _answer(sock: socket.socket) -> bytes:
    sock.settimeout(30)
    try:
        return sock.recv(4096)
    except ConnectionResetError:
        return b""


def _post(port: int, *, declared: bool) -> bytes:
    """An unsigned 100 MB POST, declared up front or streamed chunked; the status line back.
    The server may answer and close before all of it is sent: sending stops there."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        length = f"Content-Length: {HUNDRED_MB}" if declared else "Transfer-Encoding: chunked"
        sock.sendall(f"POST {CALLBACK} HTTP/1.1\r\nHost: x\r\n{length}\r\n\r\n".encode())
        block = b"<a>" * (CHUNK // 3)
        framed = block if declared else f"{len(block):x}\r\n".encode() + block + b"\r\n"
        try:
            for _ in range(HUNDRED_MB // len(block)):
                sock.sendall(framed)
            if not declared:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-body, as it should be: the answer is waiting
        return _answer(sock).split(b"\r\n", 1)[0]


@pytest.mark.slow
def test_100_mb_bodies_are_413_and_cost_the_server_under_50_mb(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/coverwatch.db"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    port = free_port()
    config = write_config(tmp_path / "cw.toml", url, port, webhook=None, extra=WECOM)
    with running(config, port, tmp_path / "run.log", stdin=None) as instance:
        deadline = time.monotonic() + 60
        wait_for(lambda: healthz(port) == 200, deadline, "the server", instance.log)
        pid = instance.process.pid
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        before = _kb(pid, "VmRSS")

        answers = [_post(port, declared=True)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers += pool.map(lambda _: _post(port, declared=False), range(4))

        peak = _kb(pid, "VmHWM")
        assert answers == [b"HTTP/1.1 413 Request Entity Too Large"] * 5, instance.output()
        assert peak - before < GROWTH_LIMIT_KB, (before, peak)
        assert healthz(port) == 200
