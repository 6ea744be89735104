"""Rendering replies as WeCom payloads, and the refs that name a sent message."""

from __future__ import annotations

from adapters.wecom import render
from handlers.types import Button, Card, Field, Reply

ALERT = Card(
    title="医保欠费 / Overdue",
    fields=(Field(label="参保地", value="beijing"), Field(label="欠费", value="1234.50")),
    buttons=(
        Button(action="ack", label="Acknowledge", value="12"),
        Button(action="snooze", label="Snooze 4h", value="12:4h"),
    ),
)


def test_short_text_is_one_message() -> None:
    assert render.text_messages("你好") == [{"msgtype": "text", "text": {"content": "你好"}}]


def test_long_text_is_split_at_line_ends_within_2048_bytes() -> None:
    line = "缴费明细" * 50  # 600 bytes
    text = "\n".join([line] * 7)
    chunks = render.text_chunks(text)
    assert len(chunks) == 3
    assert all(len(chunk.encode()) <= 2048 for chunk in chunks)
    assert "\n".join(chunks) == text


def test_a_line_longer_than_the_limit_is_cut_between_characters() -> None:
    text = "医" * 1000  # 3000 bytes, no line end
    chunks = render.text_chunks(text)
    assert [len(chunk.encode()) for chunk in chunks] == [2046, 954]
    assert "".join(chunks) == text


def test_alert_card_is_a_button_interaction_template_card() -> None:
    message = render.template_card(ALERT, task_id="cw-abc-1")
    assert message == {
        "msgtype": "template_card",
        "template_card": {
            "card_type": "button_interaction",
            "main_title": {"title": "医保欠费 / Overdue"},
            "horizontal_content_list": [
                {"keyname": "参保地", "value": "beijing"},
                {"keyname": "欠费", "value": "1234.50"},
            ],
            "task_id": "cw-abc-1",
            "button_list": [
                {"text": "Acknowledge", "key": "ack:12"},
                {"text": "Snooze 4h", "key": "snooze:12:4h"},
            ],
        },
    }


def test_markdown_card_carries_the_fallback_only_when_asked() -> None:
    reply = Reply(text="回复 确认 12 以确认", card=ALERT)
    plain = render.markdown_messages(reply, ALERT, with_text=False)
    with_text = render.markdown_messages(reply, ALERT, with_text=True)
    assert plain == [
        {
            "msgtype": "markdown",
            "markdown": {"content": "**医保欠费 / Overdue**\n> 参保地：beijing\n> 欠费：1234.50"},
        }
    ]
    assert with_text[0]["markdown"]["content"].endswith("\n\n回复 确认 12 以确认")


def test_card_refs_round_trip_and_plain_refs_are_not_cards() -> None:
    ref = render.card_ref("lisi", "RC:with:colons")
    assert render.parse_card_ref(ref) == ("lisi", "RC:with:colons")
    assert render.parse_card_ref(render.message_ref("msg1")) is None
    assert render.parse_card_ref(render.chat_ref("wrhrchat0001")) is None
    assert render.parse_card_ref("card:lisi:") is None


def test_a_settled_button_says_who_acknowledged_not_the_title() -> None:
    acknowledged = "已由 李伟 (E0002) 于 2025-06-18 10:00 通过 wecom 确认。"
    title = "上海 2025-06 社保已逾期"
    settled = Reply(text=f"{title}\n请尽快缴纳。\n\n{acknowledged}", card=Card(title=title))
    assert render.settled_label(settled) == acknowledged
    assert render.settled_label(Reply(text="", card=Card(title="已确认"))) == "已确认"


def test_user_text_in_markdown_cannot_become_a_link_or_a_font_tag() -> None:
    """Issue 15 finding 9: a new hire's name was a live link in HR's WeCom alerts."""
    lure = "[点击这里确认参保](http://evil.example/login)"
    card = Card(
        title="未参保",
        fields=(
            Field(label="姓名", value=lure),
            Field(label="部门", value='<font color="warning">x'),
        ),
    )
    [message] = render.markdown_messages(
        Reply(text=f"{lure} 未参保", card=card), card, with_text=True
    )
    content = message["markdown"]["content"]
    assert "[" not in content and "<font" not in content
    assert content.count("［点击这里确认参保］(http://evil.example/login)") == 2
