"""`/readyz` of a running `coverwatch run` while its DingTalk Stream cannot connect: 503 with
the adapter's reason (while `/healthz` stays 200), then 200 once the Stream is up; `/metrics`
shows the adapter down, then up."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.dingtalk import FakeDingTalk
from tests.support.cli import cli
from tests.support.run import free_port, healthz, running, wait_for, write_config


def readyz(port: int) -> tuple[int, dict[str, Any]] | None:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
    except httpx.HTTPError:
        return None
    return response.status_code, response.json()


def adapter_up(port: int) -> str | None:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    match = re.search(r'^coverwatch_adapter_up\{platform="dingtalk"\} (\d)$', text, re.M)
    return match.group(1) if match else None


@pytest.mark.slow
def test_readyz_while_the_dingtalk_stream_is_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ready.db"
    assert cli(url, "init").exit_code == 0
    fake = FakeDingTalk()
    fake.fail_next_opens = 4  # 503 from the gateway: the Stream backs off 1-2, 2-4, 4-8, 8-16 s
    fake.start()
    port = free_port()
    extra = (
        "[dingtalk]\nenabled = true\n"
        f'client_id = "{fake.client_id}"\nclient_secret = "{fake.client_secret}"\n'
        f'api_base_url = "{fake.base_url}"\ngateway_url = "{fake.base_url}"\n'
    )
    config = write_config(tmp_path / "cw.toml", url, port, webhook=None, extra=extra)
    try:
        with running(config, port, tmp_path / "run.log", stdin=None) as instance:
            deadline = time.monotonic() + 60
            wait_for(lambda: healthz(port) == 200, deadline, "/healthz", instance.log)
            answer = readyz(port)
            assert answer is not None
            status, document = answer
            assert status == 503 and document["status"] == "fail"
            link = document["checks"]["adapter:dingtalk"]
            assert link["ok"] is False
            assert link["detail"].startswith(("connection failed", "not connected"))
            assert document["checks"]["database"]["ok"] is True
            assert adapter_up(port) == "0"
            wait_for(lambda: (readyz(port) or (0, {}))[0] == 200, deadline, "ready", instance.log)
            assert adapter_up(port) == "1"
            assert fake.connections == 1
    finally:
        fake.stop()
