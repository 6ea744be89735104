"""SIGTERM/SIGINT mid-send: `coverwatch run` exits cleanly and hands its claim back.

The receiver hangs on the second message; the signal arrives while it is in flight. The
process must not wait for the 10 s send timeout, must exit 0, and must leave no delivery in
`sending`: the in-flight one and the claimed-but-unsent ones are pending again, so the next
start sends them (the in-flight one a second time, under the same idempotency key).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from bot.runtime import SHUTDOWN_GRACE_SECONDS
from tests.fakes.webhook_server import WebhookServer
from tests.support.run import (
    SECRET,
    deliveries,
    free_port,
    received_keys,
    running,
    seed_overdue,
    settled,
    wait_for,
    write_config,
)

WEBHOOK_TIMEOUT_SECONDS = 10.0


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_send_exits_cleanly_and_loses_no_claim(
    sqlite_url: str, tmp_path: Path, stop: signal.Signals
) -> None:
    seed_overdue(sqlite_url)
    port = free_port()
    deadline = time.monotonic() + 90
    with WebhookServer(SECRET) as server:
        server.answer(200, body=b'{"id": "wh-1"}')
        server.hang()
        config = write_config(tmp_path / "cw.toml", sqlite_url, port, webhook=server.url)
        with running(config, port, tmp_path / "first.log", stdin=None) as first:
            wait_for(lambda: len(server.requests) >= 2, deadline, "the hanging send", first.log)
            signalled = time.monotonic()
            first.process.send_signal(stop)
            code = first.process.wait(timeout=30)
            took = time.monotonic() - signalled
        assert code == 0, first.output()
        assert took < WEBHOOK_TIMEOUT_SECONDS, "the shutdown did not wait for the hung request"
        assert took >= SHUTDOWN_GRACE_SECONDS - 0.5, "the in-flight send had its grace period"
        in_flight = server.requests[1].json()["key"]
        after = {d.idempotency_key: d for d in deliveries(sqlite_url)}
        assert "sending" not in {d.state for d in after.values()}
        assert after[in_flight].state == "pending" and after[in_flight].claimed_by is None
        unsent = {key for key, d in after.items() if d.state == "pending"}
        assert len(unsent) >= 2, "claimed but unattempted messages were handed back too"

        with running(config, port, tmp_path / "second.log", stdin=None) as second:
            wait_for(lambda: settled(sqlite_url), deadline, "the restart to drain", second.log)
        received = received_keys(server.requests)

    webhook = {key for key in after if ":webhook:" in key}
    assert set(received) == webhook
    assert {key for key, n in received.items() if n > 1} <= {in_flight}
    assert {d.state for d in deliveries(sqlite_url)} == {"sent"}
