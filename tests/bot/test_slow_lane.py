"""Charts are drawn in a lane of their own (issue 18 item 4): a burst of `kpi` whose charts are
all still being drawn does not keep `help` from being answered, and each `kpi` answer then
arrives with its chart."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest

from adapters.base import ReplyTarget
from bot.handling import HANDLER_THREADS
from bot.runtime import Runtime
from bot.slow_lane import SlowLane, completed
from handlers.types import Message, PendingAttachment, Recipient, Reply
from storage.db import make_engine, session_scope, upgrade
from storage.models import Employee
from tests.support.company import make_app, seed
from tests.support.drawing_worker import stop_while_drawing
from tests.support.inbound import eventually

T = TypeVar("T")
PNG_MAGIC = b"\x89PNG"


def after_gate(gate: str, fn: Callable[..., T], *args: Any) -> T:
    """Runs in the lane's process: waits until the test opens the gate, then does the work."""
    while not Path(gate).exists():
        time.sleep(0.01)
    return fn(*args)


class GatedLane(SlowLane):
    """The real process pool; every piece of work waits for the gate file first."""

    def __init__(self, workers: int, gate: Path) -> None:
        super().__init__(workers)
        self.gate = gate

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        return super().submit(after_gate, str(self.gate), fn, *args)


class RecordingReceiver:
    """Stands in for every platform's receiver: records who was answered what, in order."""

    name = "recording"
    rate_limits = ()

    def __init__(self) -> None:
        self.replies: list[tuple[str, Reply]] = []

    async def start(self, sink: object) -> None: ...

    async def stop(self) -> None: ...

    async def reply(self, target: ReplyTarget, reply: Reply) -> None:
        self.replies.append((target.user_id, reply))

    async def send(self, recipient: Recipient, reply: Reply, *, key: str) -> str:
        raise AssertionError("no proactive message expected")


def message(platform: str, user_id: str, text: str, event_id: str) -> Message:
    return Message(
        platform=platform,
        user_id=user_id,
        conversation_id=f"D-{user_id}",
        is_direct=True,
        text=text,
        event_id=event_id,
    )


@pytest.mark.slow
def test_help_is_answered_while_every_chart_is_still_being_drawn(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/coverwatch.db")
    upgrade(engine)
    seed(engine)
    with session_scope(engine) as session:  # finance and the Sales manager on Slack too
        for employee_id in ("E004", "E006"):
            session.get_one(Employee, employee_id).slack_user_id = f"U{employee_id[1:]}"
    receiver = RecordingReceiver()
    gate = tmp_path / "gate"
    runtime = Runtime(
        make_app(engine),
        {"wecom": receiver, "dingtalk": receiver, "slack": receiver},
        host="127.0.0.1",
        port=0,
        poll_seconds=1,
        jobs={},
        slow_lane=GatedLane(1, gate),
    )
    assert runtime.worker is not None
    runtime.worker.slots = HANDLER_THREADS
    # Four people ask `kpi` at once (one each: a user's messages are answered in order), more
    # than the handler threads and the worker's slots: drawn on a thread, or awaited in a
    # slot, the charts would hold them all and `help` would wait.
    askers = [("wecom", "W003"), ("dingtalk", "D002"), ("slack", "U004"), ("slack", "U006")]
    kpi = [message(platform, user, "kpi 2025-05", f"kpi-{user}") for platform, user in askers]
    help_ = message("slack", "U001", "help", "help-1")

    def target(event: Message) -> ReplyTarget:
        return ReplyTarget(
            platform=event.platform,
            conversation_id=event.conversation_id,
            user_id=event.user_id,
            is_direct=True,
        )

    async def scenario() -> None:
        assert runtime.worker is not None
        stop = asyncio.Event()
        working = asyncio.create_task(runtime.worker.run(stop))
        for event in [*kpi, help_]:
            assert (await runtime.sink(event, target(event), platform_retries=True)).taken
        await eventually(lambda: len(receiver.replies) == 1, timeout=60)
        assert [user for user, _ in receiver.replies] == ["U001"]  # help, charts still held
        gate.touch()
        await eventually(lambda: len(receiver.replies) == 1 + len(kpi), timeout=120)
        stop.set()
        await working

    try:
        asyncio.run(scenario())
    finally:
        runtime.slow_lane.close()  # type: ignore[union-attr]
    users = [user for user, _ in receiver.replies]
    assert users[0] == "U001"
    assert sorted(users[1:]) == sorted(user for _, user in askers)
    for _, reply in receiver.replies[1:]:
        assert reply.pending == ()
        assert [a.filename for a in reply.attachments] == ["kpi-2025-05.png"]
        assert reply.attachments[0].content.startswith(PNG_MAGIC)
        assert "2025-05" in reply.text


def test_a_chart_that_fails_leaves_the_answer_its_text() -> None:
    drawing: Future[bytes] = Future()
    drawing.set_exception(RuntimeError("no font"))
    reply = Reply(
        text="KPI 2025-05", pending=(PendingAttachment(filename="k.png", content=drawing),)
    )

    done = asyncio.run(completed(reply))

    assert (done.text, done.attachments, done.pending) == ("KPI 2025-05", (), ())


def test_a_made_chart_joins_the_attachments() -> None:
    drawing: Future[bytes] = Future()
    drawing.set_result(PNG_MAGIC + b"...")
    reply = Reply(text="KPI", pending=(PendingAttachment(filename="k.png", content=drawing),))

    done = asyncio.run(completed(reply))

    assert [(a.filename, a.content, a.mime_type) for a in done.attachments] == [
        ("k.png", PNG_MAGIC + b"...", "image/png")
    ]
    assert done.pending == ()


LANE_OWNER = """
import os, sys, time
from bot.slow_lane import SlowLane
lane = SlowLane(1)
lane.start()
print(lane.submit(os.getpid).result(timeout=60), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    """Running (a zombie, reaped by init soon, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_a_lane_process_ends_when_its_owner_is_killed() -> None:
    """A worker process killed with -9 cannot close its pool; its chart process must not stay
    behind holding a core and the server's stderr (the chat_http bench hung on one)."""
    owner = subprocess.Popen([sys.executable, "-c", LANE_OWNER], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        lane_pid = int(owner.stdout.readline())
        assert lane_pid != owner.pid and _alive(lane_pid)
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        asyncio.run(eventually(lambda: not _alive(lane_pid), timeout=30))
    finally:
        owner.kill()


GONE_OWNER = """
import os
from bot.slow_lane import SlowLane
SlowLane(1).start()
os._exit(0)  # gone before the lane process has started Python
"""


def _marked(marker: str) -> list[int]:
    """Living processes whose environment holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes() and _alive(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.slow
def test_a_lane_process_whose_owner_is_gone_before_it_starts_ends() -> None:
    """The lane process watched `getppid()` as it started: an owner already gone by then left it
    a child of init, and it watched init for ever (found alive after bench runs)."""
    marker = f"COVERWATCH_LANE_TEST={uuid.uuid4().hex}"
    name, _, value = marker.partition("=")
    subprocess.run([sys.executable, "-c", GONE_OWNER], env={**os.environ, name: value}, check=True)
    try:
        asyncio.run(eventually(lambda: not _marked(marker), timeout=30))
    finally:
        for pid in _marked(marker):
            os.kill(pid, signal.SIGKILL)


def _close_a_started_lane() -> None:
    lane = SlowLane(1)
    lane.submit(os.getpid).result()  # its process started and idle
    lane.close()


@pytest.mark.slow
def test_a_process_that_closed_its_lane_exits() -> None:
    """A spawned process, as a handler worker is, that closes its lane and returns ends: closed
    without waiting, it hung at exit joining the lane process."""
    process = multiprocessing.get_context("spawn").Process(target=_close_a_started_lane)
    process.start()
    process.join(60)
    try:
        assert not process.is_alive()
        assert process.exitcode == 0
    finally:
        if process.is_alive():
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
            for child in children.read_text().split():
                os.kill(int(child), signal.SIGKILL)
            process.join()


@pytest.mark.slow
@pytest.mark.parametrize("on_sigterm", [True, False], ids=["sigterm", "drain"])
def test_a_worker_stopping_while_its_lane_draws_exits(on_sigterm: bool) -> None:
    """A worker process hung at exit when its chart process was still drawing: multiprocessing's
    exit closed the pool's call queue, then waited for the chart process, which waited on that
    queue for the pool's stop, and on the worker's death (the chat_http bench hung on one)."""
    context = multiprocessing.get_context("spawn")
    reading, report = context.Pipe(duplex=False)
    worker = context.Process(target=stop_while_drawing, args=(on_sigterm, report))
    worker.start()
    lane_pid = 0
    try:
        assert reading.poll(60), "the lane did not start"
        lane_pid = reading.recv()
        if on_sigterm:
            assert worker.pid is not None
            os.kill(worker.pid, signal.SIGTERM)
        worker.join(60)
        assert worker.exitcode == 0, "the worker did not exit"
        assert not _alive(lane_pid)
    finally:
        worker.kill()
        if lane_pid and _alive(lane_pid):
            os.kill(lane_pid, signal.SIGKILL)
