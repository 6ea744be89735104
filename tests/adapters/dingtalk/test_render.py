"""Reply rendering and payload parsing for DingTalk, without a network."""

from __future__ import annotations

import json

from adapters.dingtalk import render
from adapters.dingtalk.inbound import parse_bot_message, parse_card_callback
from core.locales import ZH_CN
from handlers.types import Action, Button, Card, Field, Message, Reply
from tests.support.dingtalk import payload

SNOOZE = Button(action="snooze", label="暂缓", value="12:4h")
ACK = Button(action="ack", label="Acknowledge", value="12")


def test_buttons_become_the_contract_chat_commands_per_locale() -> None:
    assert render.command_for(SNOOZE, ZH_CN) == "暂缓 12 4h"
    assert render.command_for(SNOOZE, "en") == "snooze 12 4h"
    assert render.command_hints(Card(title="t", buttons=(ACK,)), "en-US") == [
        "- Acknowledge: reply `ack 12`"
    ]


def test_plain_reply_is_text_and_card_reply_is_markdown() -> None:
    assert render.webhook_body(Reply(text="你好"), ZH_CN) == {
        "msgtype": "text",
        "text": {"content": "你好"},
    }
    key, param = render.robot_message(
        Reply(
            text="fallback", card=Card(title="逾期", fields=(Field(label="应缴", value="1.00"),))
        ),
        ZH_CN,
    )
    assert key == "sampleMarkdown"
    assert json.loads(param) == {"title": "逾期", "text": "#### 逾期\n\n- **应缴**: 1.00"}


def test_card_params_are_all_strings_and_hide_actions_without_buttons() -> None:
    with_buttons = render.card_params(Reply(text="t", card=Card(title="x", buttons=(ACK, SNOOZE))))
    assert with_buttons["actions_visible"] == "true"
    assert with_buttons["snooze_value"] == "12:4h"
    plain = render.card_params(Reply(text="已确认"))
    assert plain == {
        "title": "已确认",
        "content": "已确认",
        "actions_visible": "false",
        "btns": "[]",
    }
    assert all(isinstance(v, str) for v in with_buttons.values())


def test_card_content_is_one_markdown_list_item_per_field() -> None:
    """A bare newline between `**label**: value` lines would render as one run-on paragraph."""
    fields = (Field(label="应缴", value="1.00"), Field(label="城市", value="北京"))
    content = render.card_params(Reply(text="t", card=Card(title="x", fields=fields)))["content"]
    assert content == "- **应缴**: 1.00\n- **城市**: 北京"


def test_group_text_without_mention_prefix_is_kept_whole() -> None:
    data = payload("bot_message_group", text={"content": "  我的医保 "})
    parsed = parse_bot_message(data, "m1")
    assert parsed is not None
    message, target = parsed
    assert isinstance(message, Message) and message.text == "我的医保"
    assert not target.is_direct and target.conversation_id == "cidGroupHR0002Xk9pQ=="


def test_direct_text_keeps_a_leading_at_sign() -> None:
    parsed = parse_bot_message(payload("bot_message_single", text={"content": "@me help"}), "m1")
    assert parsed is not None and isinstance(parsed[0], Message)
    assert parsed[0].text == "@me help"


def test_message_without_staff_id_is_ignored() -> None:
    data = payload("bot_message_single")
    data.pop("senderStaffId")
    assert parse_bot_message(data, "m1") is None


def test_snooze_click_in_a_group_card() -> None:
    content = {"cardPrivateData": {"actionIds": ["snooze"], "params": {"value": "12:4h"}}}
    data = payload(
        "card_callback",
        content=json.dumps(content),
        spaceType="IM_GROUP",
        spaceId="cidGroupHR0002Xk9pQ==",
    )
    parsed = parse_card_callback(data, "f1")
    assert parsed is not None
    action, target = parsed
    assert isinstance(action, Action)
    assert (action.action_id, action.value) == ("snooze", "12:4h")
    assert action.message_ref == "cw_0000000000000000000000000000000a"
    assert not target.is_direct and target.conversation_id == "cidGroupHR0002Xk9pQ=="


LURE = "[点击这里确认参保](http://evil.example/login)"


def test_user_text_in_markdown_cannot_become_a_link() -> None:
    """Issue 15 finding 9: a new hire's name was a live link in HR's DingTalk alerts."""
    card = Card(title=f"{LURE} 未参保", fields=(Field(label="姓名", value=LURE),))
    reply = Reply(text=f"{LURE}\n# 标题", card=card)
    _, text = render.markdown_of(reply, ZH_CN)
    content = render.card_params(reply)["content"]
    plain = render.markdown_of(Reply(text=f"{LURE}\n# 标题", card=Card(title="t")), ZH_CN)[1]
    for markdown in (text, content, plain):
        assert "[" not in markdown and "](" not in markdown
        assert "［点击这里确认参保］(http://evil.example/login)" in markdown
    assert "\n# 标题" not in plain and "＃ 标题" in plain
