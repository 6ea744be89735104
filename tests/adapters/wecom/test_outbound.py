"""Sending through the loopback fake WeCom API: tokens, limits, failures, groups, images."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
import requests
from wechatpy.exceptions import WeChatClientException  # type: ignore[import-untyped]

from adapters.base import DeliveryError, RateLimit
from adapters.wecom import WeComAdapter
from adapters.wecom.client import _delivery_error
from handlers.types import Attachment, Button, Card, Field, Recipient, Reply
from tests.fakes.wecom import FakeWeCom
from tests.support.wecom import FIXTURES, HR_CHAT, FakeClock, make_adapter, sent_bodies

pytestmark = pytest.mark.anyio

ZHANGSAN = Recipient(platform="wecom", address="zhangsan")
ALERT = Reply(
    text="社保逾期：欠费 1234.50。回复「确认 12」以确认。",
    card=Card(
        title="社保逾期",
        fields=(Field(label="欠费", value="1234.50"),),
        buttons=(Button(action="ack", label="Acknowledge", value="12"),),
    ),
)


async def test_token_comes_from_the_configured_base_and_is_cached(
    wecom_adapter: WeComAdapter, wecom_fake: FakeWeCom
) -> None:
    await wecom_adapter.send(ZHANGSAN, Reply(text="一"), key="k1")
    await wecom_adapter.send(ZHANGSAN, Reply(text="二"), key="k2")
    [gettoken] = wecom_fake.calls_to("gettoken")
    assert gettoken.query["corpid"] == wecom_fake.corp_id
    tokens = {call.query["access_token"] for call in wecom_fake.calls_to("message/send")}
    assert len(tokens) == 1


async def test_expired_token_is_refreshed_once_then_the_send_succeeds(
    wecom_adapter: WeComAdapter, wecom_fake: FakeWeCom
) -> None:
    await wecom_adapter.send(ZHANGSAN, Reply(text="一"), key="k1")
    wecom_fake.expire_tokens()
    ref = await wecom_adapter.send(ZHANGSAN, Reply(text="二"), key="k2")
    assert ref.startswith("msg:")
    outcomes = [(c.api, c.outcome) for c in wecom_fake.calls]
    assert outcomes == [
        ("gettoken", "ok"),
        ("message/send", "ok"),
        ("message/send", "errcode 42001"),
        ("gettoken", "ok"),
        ("message/send", "ok"),
    ]


async def test_a_token_rejected_again_after_the_refresh_fails_without_looping(
    wecom_adapter: WeComAdapter, wecom_fake: FakeWeCom
) -> None:
    wecom_fake.tokens_born_expired = True
    with pytest.raises(DeliveryError) as failure:
        await wecom_adapter.send(ZHANGSAN, Reply(text="一"), key="k1")
    assert not failure.value.permanent  # the outbox tries again later
    assert [(c.api, c.outcome) for c in wecom_fake.calls] == [
        ("gettoken", "ok"),
        ("message/send", "errcode 42001"),
        ("gettoken", "ok"),
        ("message/send", "errcode 42001"),
    ]


async def test_a_wrong_secret_fails_permanently_after_one_refresh(
    wecom_fake: FakeWeCom, wecom_clock: FakeClock
) -> None:
    adapter = make_adapter(wecom_fake, wecom_clock, secret="not-the-secret")
    with pytest.raises(DeliveryError) as failure:
        await adapter.send(ZHANGSAN, Reply(text="一"), key="k1")
    assert failure.value.permanent
    assert [c.outcome for c in wecom_fake.calls] == ["errcode 40001", "errcode 40001"]


async def test_45009_is_a_delivery_error_with_retry_after(
    wecom_adapter: WeComAdapter, wecom_fake: FakeWeCom
) -> None:
    wecom_fake.throttle_next = 1
    with pytest.raises(DeliveryError) as failure:
        await wecom_adapter.send(ZHANGSAN, Reply(text="一"), key="k1")
    assert (failure.value.retry_after, failure.value.permanent) == (60.0, False)
    await wecom_adapter.send(ZHANGSAN, Reply(text="一"), key="k1")
    assert len(sent_bodies(wecom_fake)) == 1


async def test_beyond_30_a_minute_wecom_drops_silently_so_the_limit_is_declared(
    wecom_adapter: WeComAdapter, wecom_fake: FakeWeCom, wecom_clock: FakeClock
) -> None:
    assert RateLimit(scope="recipient", count=30, seconds=60) in wecom_adapter.rate_limits
    assert RateLimit(scope="recipient", count=1000, seconds=3600) in wecom_adapter.rate_limits
    for n in range(31):
        await wecom_adapter.send(ZHANGSAN, Reply(text=f"#{n}"), key=f"k{n}")  # never raises
    assert len(wecom_fake.calls_to("message/send")) == 30
    assert len(wecom_fake.calls_to("message/send", "dropped")) == 1
    wecom_clock.now += 60
    await wecom_adapter.send(ZHANGSAN, Reply(text="later"), key="later")
    assert len(wecom_fake.calls_to("message/send")) == 31


async def test_unknown_or_unlicensed_members_fail_permanently(
    wecom_adapter: WeComAdapter, wecom_fake: FakeWeCom
) -> None:
    wecom_fake.unlicensed = frozenset({"wangwu"})
    for user in ("nobody", "wangwu"):
        with pytest.raises(DeliveryError) as failure:
            await wecom_adapter.send(Recipient(platform="wecom", address=user), ALERT, key=user)
        assert failure.value.permanent


async def test_alert_card_task_ids_are_unique_per_send(
    wecom_adapter: WeComAdapter, wecom_fake: FakeWeCom
) -> None:
    first = await wecom_adapter.send(ZHANGSAN, ALERT, key="alert-12:zhangsan")
    second = await wecom_adapter.send(ZHANGSAN, ALERT, key="alert-12:zhangsan")
    task_ids = [body["template_card"]["task_id"] for body in sent_bodies(wecom_fake)]
    assert len(set(task_ids)) == 2
    assert all(t.startswith("cw-") and len(t) <= 128 for t in task_ids)
    assert first != second and first.startswith("card:zhangsan:")


async def test_hr_group_gets_the_card_as_markdown_with_its_text_fallback(
    wecom_adapter: WeComAdapter, wecom_fake: FakeWeCom
) -> None:
    [hr] = wecom_adapter.hr_recipients
    assert (hr.address, hr.is_group) == (HR_CHAT, True)
    ref = await wecom_adapter.send(hr, ALERT, key="alert-12:hr")
    [body] = sent_bodies(wecom_fake, "appchat/send")
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["content"].startswith("**社保逾期**\n> 欠费：1234.50")
    assert body["markdown"]["content"].endswith(ALERT.text)
    with pytest.raises(DeliveryError) as failure:  # group messages cannot be edited
        await wecom_adapter.update(ref, Reply(text="已确认"))
    assert failure.value.permanent


async def test_an_unknown_group_fails_permanently(wecom_adapter: WeComAdapter) -> None:
    group = Recipient(platform="wecom", address="wrnosuchchat", is_group=True)
    with pytest.raises(DeliveryError) as failure:
        await wecom_adapter.send(group, Reply(text="hi"), key="k")
    assert failure.value.permanent


async def test_attachments_are_uploaded_then_sent_as_images(
    wecom_adapter: WeComAdapter, wecom_fake: FakeWeCom
) -> None:
    chart = Attachment(filename="kpi.png", content=b"\x89PNG\r\n\x1a\nchart")
    await wecom_adapter.send(ZHANGSAN, Reply(text="KPI 2024-05", attachments=(chart,)), key="k")
    [upload] = wecom_fake.calls_to("media/upload")
    assert upload.query["type"] == "image"
    assert upload.files == {"media": chart.content}
    text, image = sent_bodies(wecom_fake)
    assert text["text"] == {"content": "KPI 2024-05"}
    assert image["msgtype"] == "image" and image["image"]["media_id"].startswith("media")


async def test_an_unreachable_api_is_a_retryable_failure(wecom_clock: FakeClock) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = WeComAdapter(
        corp_id="ww1",
        secret="s",
        agent_id=1,
        token="t",
        encoding_aes_key="6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
        api_base_url=f"http://127.0.0.1:{port}/cgi-bin",
        clock=wecom_clock,
        timeout=2,
    )
    with pytest.raises(DeliveryError) as failure:
        await adapter.send(ZHANGSAN, Reply(text="一"), key="k")
    assert (failure.value.permanent, failure.value.retry_after) == (False, None)


def http_failure(status: int, headers: dict[str, str] | None = None) -> DeliveryError:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    error = _delivery_error(WeChatClientException(None, None, response=response))
    assert isinstance(error, DeliveryError)
    return error


def test_http_errors_map_to_retryable_or_permanent() -> None:
    assert not http_failure(502).permanent
    assert http_failure(403).permanent
    assert http_failure(429, {"Retry-After": "7"}).retry_after == 7.0


def test_the_fake_answers_message_send_in_the_documented_shape(wecom_fake: FakeWeCom) -> None:
    documented = json.loads((FIXTURES / "message_send_response.json").read_text())
    documented.pop("_source")
    token = requests.get(
        f"{wecom_fake.base_url}gettoken",
        params={"corpid": wecom_fake.corp_id, "corpsecret": wecom_fake.secret},
        timeout=5,
    ).json()["access_token"]
    answer = requests.post(
        f"{wecom_fake.base_url}message/send",
        params={"access_token": token},
        json={"touser": "zhangsan", "agentid": wecom_fake.agent_id, **ALERT_CARD},
        timeout=5,
    ).json()
    assert set(answer) == set(documented)


ALERT_CARD: dict[str, Any] = {
    "msgtype": "template_card",
    "template_card": {"card_type": "button_interaction", "task_id": "t1", "button_list": []},
}
