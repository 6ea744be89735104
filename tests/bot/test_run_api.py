"""`coverwatch run` serves the API under /api/v1 beside the platforms' routes: a token from
`coverwatch token create`, a payment posted with curl's headers, the contract readable."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.api import PAYMENT
from tests.support.run import COVERWATCH, free_port, healthz, running, wait_for, write_config


@pytest.mark.slow
def test_the_running_process_serves_the_api(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cw.db"
    port = free_port()
    config = write_config(tmp_path / "cw.toml", url, port, webhook=None)
    base = [str(COVERWATCH), "--config", str(config)]
    assert subprocess.run([*base, "init"], capture_output=True, timeout=60).returncode == 0
    created = subprocess.run(
        [*base, "token", "create", "--name", "erp", "--scope", "payments:write,read"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    token = created.stdout.strip()
    payment = PAYMENT | {"amount": "100.00"}
    with running(config, port, tmp_path / "run.log", stdin=None) as instance:
        wait_for(lambda: healthz(port) == 200, time.monotonic() + 60, "/healthz", instance.log)
        api = f"http://127.0.0.1:{port}/api/v1"
        stranger = httpx.post(f"{api}/payments", json=[payment], timeout=10)
        paid = httpx.post(
            f"{api}/payments",
            json=[payment],
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k"},
            timeout=10,
        )
        contract = httpx.get(f"{api}/openapi.json", timeout=10)

    assert stranger.status_code == 401
    assert (paid.status_code, paid.json()) == (200, {"rows": 1, "created": 1, "updated": 0})
    assert "/payments" in contract.json()["paths"]
