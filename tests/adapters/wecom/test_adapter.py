"""The WeCom callback route over real loopback HTTP, replies and card updates via the fake."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.base import Admission, DeliveryError, ReplyTarget
from adapters.wecom import WeComAdapter
from bot.handling import new_event
from handlers.types import Action, Button, Card, Field, Message, Recipient, Reply
from storage.db import make_engine, upgrade
from storage.inbound import admit
from tests.fakes.wecom import FakeWeCom
from tests.support.inbound import RecordingSink
from tests.support.wecom import (
    NOW,
    VECTOR,
    FakeClock,
    callback_client,
    encrypted_post,
    fixture_xml,
    post_url,
    sent_bodies,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


ALERT = Reply(
    text="北京 2024-05 社保逾期：欠费 1234.50，滞纳金 6.17。回复「确认 12」以确认。",
    card=Card(
        title="社保逾期 / Overdue",
        fields=(Field(label="参保地", value="beijing"), Field(label="欠费", value="1234.50")),
        buttons=(
            Button(action="ack", label="Acknowledge", value="12"),
            Button(action="snooze", label="Snooze 4h", value="12:4h"),
        ),
    ),
)


async def test_url_verification_answers_the_decrypted_echostr(
    wecom_adapter: WeComAdapter, wecom_clock: FakeClock
) -> None:
    wecom_clock.now = int(VECTOR["timestamp"]) + 2
    query = {k: VECTOR[k] for k in ("msg_signature", "timestamp", "nonce", "echostr")}
    async with callback_client(wecom_adapter) as client:
        response = await client.get("/wecom/callback", params=query)
    assert response.status_code == 200
    assert response.text == "1288432023552776189"


async def test_head_on_the_url_verification_is_answered_as_get_without_a_body(
    wecom_adapter: WeComAdapter, wecom_clock: FakeClock
) -> None:
    """HEAD is GET without the content (RFC 9110 §9.3.2): the route serves GET, so HEAD gets
    the same status and length, not 405 (Starlette mounts HEAD beside GET and passes it on)."""
    wecom_clock.now = int(VECTOR["timestamp"]) + 2
    query = {k: VECTOR[k] for k in ("msg_signature", "timestamp", "nonce", "echostr")}
    async with callback_client(wecom_adapter) as client:
        head = await client.head("/wecom/callback", params=query)
        forged = await client.head("/wecom/callback", params={**query, "nonce": "1"})
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len("1288432023552776189"))
    assert forged.status_code == 403


async def test_text_reaches_the_sink_and_the_reply_goes_through_message_send(
    wecom_adapter: WeComAdapter, wecom_fake: FakeWeCom
) -> None:
    sink = RecordingSink()
    await wecom_adapter.start(sink)
    query, body = encrypted_post(fixture_xml("text_message"), timestamp=int(NOW))
    async with callback_client(wecom_adapter) as client:
        response = await client.post(post_url(query), content=body)
    assert (response.status_code, response.content) == (200, b"")
    [(event, target)] = sink.events
    assert isinstance(event, Message)
    assert (event.user_id, event.text, event.event_id) == (
        "zhangsan",
        "我的医保",
        "7248349923859371823",
    )
    await wecom_adapter.reply(target, Reply(text="您的医保：正常，已缴至 2024-05。"))
    assert sent_bodies(wecom_fake) == [
        {
            "touser": "zhangsan",
            "toparty": "",
            "totag": "",
            "agentid": 1000002,
            "msgtype": "text",
            "text": {"content": "您的医保：正常，已缴至 2024-05。"},
        }
    ]
    assert len(wecom_fake.calls_to("gettoken")) == 1


async def test_a_correctly_signed_but_stale_message_gets_403(
    wecom_adapter: WeComAdapter, wecom_clock: FakeClock
) -> None:
    sink = RecordingSink()
    await wecom_adapter.start(sink)
    query, body = encrypted_post(fixture_xml("text_message"), timestamp=int(NOW))
    wecom_clock.now = NOW + 301
    async with callback_client(wecom_adapter) as client:
        response = await client.post(post_url(query), content=body)
    assert response.status_code == 403
    assert sink.events == []


async def test_wrong_corp_id_gets_403(wecom_adapter: WeComAdapter) -> None:
    sink = RecordingSink()
    await wecom_adapter.start(sink)
    xml = fixture_xml("text_message")
    query, body = encrypted_post(xml, timestamp=int(NOW), corp_id="wwffffffffffffffff")
    async with callback_client(wecom_adapter) as client:
        response = await client.post(post_url(query), content=body)
    assert response.status_code == 403
    assert sink.events == []


async def test_before_start_a_message_is_refused_so_wecom_retries(
    wecom_adapter: WeComAdapter,
) -> None:
    query, body = encrypted_post(fixture_xml("text_message"), timestamp=int(NOW))
    async with callback_client(wecom_adapter) as client:
        response = await client.post(post_url(query), content=body)
    assert response.status_code == 503


async def test_card_click_becomes_an_action_and_update_greys_out_the_buttons(
    wecom_adapter: WeComAdapter, wecom_fake: FakeWeCom
) -> None:
    sink = RecordingSink()
    await wecom_adapter.start(sink)
    ref = await wecom_adapter.send(
        Recipient(platform="wecom", address="lisi"), ALERT, key="a12:lisi"
    )
    [sent] = sent_bodies(wecom_fake)
    card = sent["template_card"]
    assert card["card_type"] == "button_interaction"
    assert [b["key"] for b in card["button_list"]] == ["ack:12", "snooze:12:4h"]
    assert ref.startswith("card:lisi:")

    response_code = wecom_fake.click(card["task_id"])
    click = fixture_xml("template_card_event", TaskId=card["task_id"], ResponseCode=response_code)
    query, body = encrypted_post(click, timestamp=int(NOW))
    async with callback_client(wecom_adapter) as client:
        response = await client.post(post_url(query), content=body)
    assert (response.status_code, response.content) == (200, b"")
    [(action, _)] = sink.events
    assert isinstance(action, Action)
    assert (action.action_id, action.value, action.user_id) == ("ack", "12", "lisi")
    assert action.event_id == f"lisi:1476416380:{card['task_id']}:ack:12"
    assert action.message_ref == f"card:lisi:{response_code}"

    done = Reply(text="告警 12 已由李四确认", card=Card(title="已确认 · 李四"))
    await wecom_adapter.update(action.message_ref, done)
    assert sent_bodies(wecom_fake, "message/update_template_card") == [
        {
            "userids": ["lisi"],
            "agentid": 1000002,
            "response_code": response_code,
            "button": {"replace_name": "告警 12 已由李四确认"},
        }
    ]
    with pytest.raises(DeliveryError) as spent:  # a ResponseCode works once
        await wecom_adapter.update(action.message_ref, done)
    assert spent.value.permanent


async def test_the_send_ref_can_update_the_card_when_acknowledged_by_text(
    wecom_adapter: WeComAdapter, wecom_fake: FakeWeCom
) -> None:
    ref = await wecom_adapter.send(
        Recipient(platform="wecom", address="lisi"), ALERT, key="a12:lisi"
    )
    await wecom_adapter.update(ref, Reply(text="告警 12 已确认"))
    [update] = sent_bodies(wecom_fake, "message/update_template_card")
    assert update["button"] == {"replace_name": "告警 12 已确认"}


async def test_reply_to_a_group_target_uses_appchat(
    wecom_adapter: WeComAdapter, wecom_fake: FakeWeCom
) -> None:
    target = ReplyTarget(
        platform="wecom", conversation_id="wrhrchat0001", user_id="zhangsan", is_direct=False
    )
    await wecom_adapter.reply(target, Reply(text="待缴合计 1234.50"))
    assert sent_bodies(wecom_fake, "appchat/send") == [
        {
            "chatid": "wrhrchat0001",
            "safe": 0,
            "msgtype": "text",
            "text": {"content": "待缴合计 1234.50"},
        }
    ]


async def test_two_clicks_in_one_second_are_both_handled(
    wecom_adapter: WeComAdapter, tmp_path: Path
) -> None:
    """Finding 10: ack and snooze clicked in the same second (same CreateTime) were one event to
    the runtime's dedupe; now both pass it, and a redelivery still does not."""
    engine = make_engine(f"sqlite:///{tmp_path}/events.db")
    upgrade(engine)
    sink = RecordingSink()
    await wecom_adapter.start(sink)
    async with callback_client(wecom_adapter) as client:
        for key in ("ack:12", "snooze:12:4h", "ack:12"):
            click = fixture_xml("template_card_event", EventKey=key)
            query, body = encrypted_post(click, timestamp=int(NOW))
            assert (await client.post(post_url(query), content=body)).status_code == 200
    now = datetime.now(UTC)
    firsts = [admit(engine, new_event(event, target), now=now) for event, target in sink.events]
    assert firsts == [True, True, False]
    engine.dispose()


async def test_a_callback_the_sink_refuses_is_answered_503_so_wecom_calls_again(
    wecom_adapter: WeComAdapter,
) -> None:
    """Issue 18: stored before the 200; with the database down WeCom's own retry brings it."""
    sink = RecordingSink()
    sink.admission = Admission(taken=False, retry_after=5)
    await wecom_adapter.start(sink)
    message = fixture_xml("text_message", Content="coverage")
    query, body = encrypted_post(message, timestamp=int(NOW))
    async with callback_client(wecom_adapter) as client:
        answer = await client.post(post_url(query), content=body)
    assert (answer.status_code, answer.headers["retry-after"]) == (503, "5")
    assert sink.retries == [True]
