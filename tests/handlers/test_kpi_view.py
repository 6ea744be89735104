"""Chat `kpi` with its chart on every platform's loopback fake: the image upload and the text.

The reply comes from the real pipeline (manager M1 sees Eng, HR H1 the company) and goes out
through each real adapter: Slack files upload v2, WeCom media/upload + image message, DingTalk
media upload + image message.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator

import pytest
from PIL import Image
from sqlalchemy.engine import Engine

from adapters.base import ReplyTarget
from adapters.wecom import WeComAdapter
from core.locales import ZH_CN
from core.policy_loader import load_policies
from handlers.context import AppContext
from handlers.pipeline import handle
from handlers.types import Message, Recipient, Reply
from tests.fakes.dingtalk import FakeDingTalk
from tests.fakes.slack import FakeSlack
from tests.fakes.wecom import FakeWeCom
from tests.support.databases import Migrated
from tests.support.dingtalk import make_adapter, run
from tests.support.kpi_company import AS_OF, ZONE, seed
from tests.support.slack import http_adapter


@pytest.fixture
def app(sqlite_url: str, migrated: Migrated) -> Iterator[AppContext]:
    engine: Engine = migrated(sqlite_url)
    seed(engine)
    yield AppContext(engine=engine, policies=load_policies(), timezone=ZONE, clock=lambda: AS_OF)
    engine.dispose()


def ask(app: AppContext, platform: str, user_id: str, text: str, locale: str = "en") -> Reply:
    message = Message(
        platform=platform,
        user_id=user_id,
        conversation_id=f"D-{user_id}",
        is_direct=True,
        text=text,
        event_id=f"{platform}-{user_id}-{text}",
        locale=locale,
    )
    return handle(app, message)


def chart_of(reply: Reply) -> bytes:
    [chart] = reply.attachments
    assert chart.filename == "kpi-2025-05.png" and chart.mime_type == "image/png"
    assert Image.open(io.BytesIO(chart.content)).size == (1200, 800)
    return chart.content


def test_console_gets_the_text_alone(app: AppContext) -> None:
    reply = ask(app, "console", "M1", "kpi 2025-05")
    assert reply.text.startswith("KPIs for 2025-05 (Eng)\nOn-time payment: 0.0%")
    assert reply.attachments == ()


def test_slack_manager_gets_department_text_and_chart(
    app: AppContext, fake_slack: FakeSlack
) -> None:
    reply = ask(app, "slack", "UM1", "kpi 2025-05")
    assert "KPIs for 2025-05 (Eng)" in reply.text
    png = chart_of(reply)
    target = ReplyTarget(platform="slack", conversation_id="D-UM1", user_id="UM1", is_direct=True)
    asyncio.run(http_adapter(fake_slack).reply(target, reply))
    [post] = fake_slack.calls_to("chat.postMessage")
    assert "KPIs for 2025-05 (Eng)" in post.params["text"]
    [complete] = fake_slack.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == "D-UM1"
    assert list(fake_slack.uploads.values()) == [png]


def test_wecom_manager_gets_text_and_an_image_message(
    app: AppContext, wecom_adapter: WeComAdapter, wecom_fake: FakeWeCom
) -> None:
    reply = ask(app, "wecom", "lisi", "绩效 2025-05", locale=ZH_CN)
    assert reply.text.startswith("2025-05 绩效（Sales）\n按时缴费率：0.0%")
    png = chart_of(reply)
    target = ReplyTarget(platform="wecom", conversation_id="lisi", user_id="lisi", is_direct=True)
    asyncio.run(wecom_adapter.reply(target, reply))
    [upload] = wecom_fake.calls_to("media/upload")
    assert upload.query["type"] == "image" and upload.files == {"media": png}
    sent = [call.body for call in wecom_fake.calls_to("message/send")]
    assert [body["msgtype"] for body in sent][-1] == "image"
    assert any("2025-05 绩效（Sales）" in json.dumps(b, ensure_ascii=False) for b in sent)


def test_dingtalk_manager_gets_text_and_an_uploaded_image(
    app: AppContext, fake_dingtalk: FakeDingTalk
) -> None:
    reply = ask(app, "dingtalk", "0123456789001", "kpi 2025-05")
    chart_of(reply)
    adapter = make_adapter(fake_dingtalk)
    person = Recipient(platform="dingtalk", address="0123456789001")

    async def scenario() -> None:
        await adapter.send(person, reply, key="kpi-chat")
        await adapter.stop()

    run(scenario)
    [upload] = fake_dingtalk.token_calls("/media/upload")
    assert b"kpi-2025-05.png" in upload.body
    text, image = fake_dingtalk.token_calls("/v1.0/robot/oToMessages/batchSend")
    assert "KPIs for 2025-05 (Eng)" in text.body["msgParam"]
    assert image.body["msgKey"] == "sampleImageMsg"
