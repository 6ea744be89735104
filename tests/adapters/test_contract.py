"""The adapter contract (`adapters/base.py`), held against every adapter and its loopback fake.

One suite over six rows — Slack over HTTP and over Socket Mode, DingTalk, WeCom, the webhook and
the console — as APScheduler runs one data-store suite over every store. A test runs on the rows
whose platform has the capability it needs (`tests.support.contract.CAPABILITIES`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from adapters.base import (
    Adapter,
    ChatAdapter,
    DeliveryError,
    HttpReceiver,
    MessageNotEditable,
    Receiver,
    Sender,
)
from bot.runtime import Runtime
from handlers.context import AppContext
from handlers.types import Action, Message
from storage.db import make_engine, upgrade
from tests.support.contract import (
    ACKNOWLEDGED,
    ALERT,
    CAPABILITIES,
    CLICK,
    HTTP,
    INBOUND,
    REDELIVERY,
    REFUSAL,
    ROWS,
    THROTTLE,
    UNEDITABLE,
    Row,
    open_row,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def rows_with(capability: str | None = None) -> list[str]:
    return [name for name in ROWS if capability is None or capability in CAPABILITIES[name]]


@pytest.fixture
async def row(request: pytest.FixtureRequest) -> AsyncIterator[Row]:
    async with open_row(request.param) as opened:
        yield opened


@pytest.fixture
def runtime_for(sqlite_url: str) -> Iterator[Callable[[Adapter], Runtime]]:
    """The real runtime around one adapter, on a SQLite file; its sink is used, nothing served."""
    engine = make_engine(sqlite_url)
    upgrade(engine)
    built: list[Runtime] = []

    def build(adapter: Adapter) -> Runtime:
        app = AppContext(engine=engine, policies={})
        runtime = Runtime(
            app, {adapter.name: adapter}, host="127.0.0.1", port=0, poll_seconds=1, jobs={}
        )
        built.append(runtime)
        return runtime

    yield build
    for runtime in built:
        assert runtime.worker is not None
        runtime.worker.threads.shutdown(wait=True)
    engine.dispose()


# -- capabilities ------------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, indirect=True)
async def test_an_adapter_is_what_its_capabilities_say(row: Row) -> None:
    adapter, capabilities = row.adapter, row.capabilities
    assert isinstance(adapter, Sender)
    assert isinstance(adapter, Receiver) == (INBOUND in capabilities)
    routes = adapter.routes() if isinstance(adapter, HttpReceiver) else ()
    assert bool(routes) == (HTTP in capabilities)
    for route in routes:
        assert route.path.startswith(f"/{adapter.name}/")
    if isinstance(adapter, Receiver):
        assert isinstance(adapter, ChatAdapter)


# -- inbound -----------------------------------------------------------------------------


@pytest.mark.parametrize("row", rows_with(HTTP), indirect=True)
async def test_a_forged_request_is_refused_and_reaches_no_sink(row: Row) -> None:
    assert await row.deliver_forged() in (401, 403)
    assert await row.deliver_stale() in (401, 403)
    await row.deliver_message()  # the next genuine event is the only one through
    await row.sink.wait_for(1)
    [(event, _)] = row.sink.events
    assert event.event_id == row.message_event_id


@pytest.mark.parametrize("row", rows_with(INBOUND), indirect=True)
async def test_a_valid_event_becomes_one_message(row: Row) -> None:
    await row.deliver_message()
    await row.sink.wait_for(1)
    [(message, target)] = row.sink.events
    assert isinstance(message, Message)
    assert (message.platform, message.user_id) == (row.adapter.name, row.message_user)
    assert message.event_id == (row.message_event_id or message.event_id) != ""
    assert (target.platform, target.user_id) == (row.adapter.name, row.message_user)


@pytest.mark.parametrize("row", rows_with(REDELIVERY), indirect=True)
async def test_a_redelivered_event_keeps_its_id_and_is_answered_once(
    row: Row, runtime_for: Callable[[Adapter], Runtime]
) -> None:
    runtime = runtime_for(row.adapter)
    row.sink.forward = runtime.sink
    for count in (1, 2):
        await row.deliver_message()
        await row.sink.wait_for(count)
    restarted = runtime_for(row.adapter)  # the database, not the process, remembers
    row.sink.forward = restarted.sink
    await row.deliver_message()
    await row.sink.wait_for(3)
    assert [event.event_id for event, _ in row.sink.events] == [row.message_event_id] * 3
    assert runtime.worker is not None and restarted.worker is not None
    assert await runtime.worker.drain() == 1
    assert await restarted.worker.drain() == 0
    # The sender is not registered, so the one answer is the runtime's "not registered" reply.
    assert row.answers() == 1


@pytest.mark.parametrize("row", rows_with(CLICK), indirect=True)
async def test_a_card_click_becomes_one_action_by_the_clicking_user(row: Row) -> None:
    await row.deliver_click()
    await row.sink.wait_for(1)
    [(action, target)] = row.sink.events
    assert isinstance(action, Action)
    assert (action.platform, action.action_id, action.value) == (row.adapter.name, "ack", "12")
    assert action.user_id == target.user_id == row.clicker
    assert action.event_id


# -- outbound ----------------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, indirect=True)
async def test_send_returns_a_ref_that_update_accepts(row: Row) -> None:
    assert isinstance(row.adapter, Sender)
    ref = await row.adapter.send(row.recipient, ALERT, key="alert:12:contract")
    assert ref
    await row.adapter.update(ref, ACKNOWLEDGED)
    assert row.updates() == 1


@pytest.mark.parametrize("row", rows_with(UNEDITABLE), indirect=True)
async def test_update_of_a_message_that_cannot_be_edited_is_not_editable(row: Row) -> None:
    assert isinstance(row.adapter, Sender)
    ref = await row.uneditable_ref()
    with pytest.raises(MessageNotEditable) as caught:
        await row.adapter.update(ref, ACKNOWLEDGED)
    assert caught.value.permanent
    assert row.updates() == 0


@pytest.mark.parametrize("row", rows_with(THROTTLE), indirect=True)
async def test_throttling_is_a_delivery_error_with_retry_after(row: Row) -> None:
    assert isinstance(row.adapter, Sender)
    row.throttle_next_send()
    with pytest.raises(DeliveryError) as caught:
        await row.adapter.send(row.recipient, ALERT, key="alert:12:throttled")
    assert not caught.value.permanent
    assert caught.value.retry_after is not None and caught.value.retry_after > 0


@pytest.mark.parametrize("row", rows_with(REFUSAL), indirect=True)
async def test_a_refusal_is_permanent(row: Row) -> None:
    assert isinstance(row.adapter, Sender)
    recipient = row.refused_recipient()
    with pytest.raises(DeliveryError) as caught:
        await row.adapter.send(recipient, ALERT, key="alert:12:refused")
    assert caught.value.permanent
