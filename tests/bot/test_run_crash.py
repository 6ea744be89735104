"""kill -9 while the outbox is sending, then restart: nothing lost, nothing sent twice beyond
the one message that was in flight (the receiver drops it by its idempotency key).

A real `coverwatch run` posts to a loopback webhook receiver that hangs on the second message;
the process dies with SIGKILL mid-request, leaving its claim in `sending`. The restarted
process takes the claim back after the (shortened) lease and sends the rest.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

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

LEASE = "outbox_claim_lease_seconds = 2\n"


@pytest.mark.slow
def test_kill_9_mid_send_then_restart_loses_and_doubles_nothing(
    db_url: str, tmp_path: Path
) -> None:
    seed_overdue(db_url)
    port = free_port()
    deadline = time.monotonic() + 90
    with WebhookServer(SECRET) as server:
        server.answer(200, body=b'{"id": "wh-1"}')
        server.hang()  # the second message never gets an answer
        config = write_config(tmp_path / "cw.toml", db_url, port, webhook=server.url, extra=LEASE)
        with running(config, port, tmp_path / "first.log", stdin=None) as first:
            wait_for(lambda: len(server.requests) >= 2, deadline, "the hanging send", first.log)
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(timeout=10)
        in_flight = server.requests[1].json()["key"]
        at_kill = {d.idempotency_key: d.state for d in deliveries(db_url)}
        webhook = {key for key in at_kill if ":webhook:" in key}
        assert len(webhook) >= 3, "some messages were claimed but not yet attempted"
        assert at_kill[in_flight] == "sending", "the killed process still holds its claim"

        with running(config, port, tmp_path / "second.log", stdin=None) as second:
            wait_for(lambda: settled(db_url), deadline, "the restart to drain", second.log)
        received = received_keys(server.requests)

    assert set(received) == webhook, "every message arrived"
    assert {key for key, n in received.items() if n > 1} <= {in_flight}
    assert received[in_flight] == 2, "the in-flight message was resent with the same key"
    assert {d.state for d in deliveries(db_url)} == {"sent"}
