"""Every long-running process answers on uvloop's loop where it is installed: the serving
process and the handler worker processes (`coverwatch worker`, and those `run` starts)."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
import uvloop

from bot import loops, workers
from bot.config import Settings


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_run_runs_on_uvloop() -> None:
    assert loops.run(_loop_type()) is uvloop.Loop


def test_a_handler_worker_runs_on_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[type] = []

    async def work(
        settings: Settings, name: str, today: date | None = None, wake: object = None
    ) -> None:
        seen.append(await _loop_type())

    monkeypatch.setattr(workers, "work", work)
    monkeypatch.setattr(workers, "configure_logging", lambda *_: None)
    workers.run_workers(Settings.model_validate({}), 1)  # `coverwatch worker`
    monkeypatch.setattr("sys.platform", "other")  # no prctl in this test process
    workers._process_main(Settings.model_validate({}), 0, None)  # a process `run` starts
    assert seen == [uvloop.Loop, uvloop.Loop]
