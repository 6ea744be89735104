"""Neutral `Reply` -> DingTalk message bodies (session webhook, robot OpenAPI, card data).

DingTalk has three outbound shapes for the same content: the session webhook takes
`{"msgtype", "text"|"markdown"}`, the robot OpenAPI takes `msgKey` + `msgParam` (a JSON *string*),
and interactive cards take a flat `cardParamMap` of strings. Where a message cannot carry
buttons (webhook, markdown fallback), the buttons become the equivalent chat command
(`确认 12`), so a manager can always acknowledge.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.markdown import inert, inert_lines
from handlers.alert_actions import ACK, BUTTON_COMMANDS, SNOOZE
from handlers.types import Button, Card, Reply

# Chat command words per button action (ARCHITECTURE.md §3, "Chat commands"): the English word
# is the command's name, the Chinese one its 确认 / 暂缓 alias.
_COMMANDS = {
    "zh": {ACK: "确认", SNOOZE: "暂缓"},
    "en": dict(BUTTON_COMMANDS),
}


def command_for(button: Button, locale: str) -> str:
    """The typed command equivalent to clicking `button` (`12:4h` -> `暂缓 12 4h`)."""
    words = _COMMANDS["en" if locale.startswith("en") else "zh"]
    args = button.value.replace(":", " ")
    return f"{words.get(button.action, button.action)} {args}"


def command_hints(card: Card, locale: str) -> list[str]:
    """One line per button telling the user what to type instead of clicking."""
    english = locale.startswith("en")
    lines = []
    for button in card.buttons:
        command = command_for(button, locale)
        if english:
            lines.append(f"- {button.label}: reply `{command}`")
        else:
            lines.append(f"- {button.label}：回复「{command}」")
    return lines


def markdown_of(reply: Reply, locale: str) -> tuple[str, str]:
    """(title, markdown text) for a reply with a card; the card's fields, then the commands."""
    card = reply.card
    if card is None:
        return _title_of(reply.text), reply.text
    # Every value may hold user text (a name from the HR file): inert in markdown.
    lines = [f"#### {inert(card.title)}", ""]
    lines += _field_lines(card)
    if not card.fields:
        lines.append(inert_lines(reply.text))
    hints = command_hints(card, locale)
    if hints:
        lines += ["", *hints]
    return card.title, "\n".join(lines)


def webhook_body(reply: Reply, locale: str) -> dict[str, Any]:
    """Session-webhook payload: plain text, or markdown when there is a card.

    Shapes: https://open.dingtalk.com/document/orgapp/robot-reply-and-send-messages
    """
    if reply.card is None:
        return {"msgtype": "text", "text": {"content": reply.text}}
    title, text = markdown_of(reply, locale)
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


def robot_message(reply: Reply, locale: str) -> tuple[str, str]:
    """(msgKey, msgParam) for the robot OpenAPI (`sampleText` / `sampleMarkdown`).

    Keys: https://open.dingtalk.com/document/orgapp/types-of-messages-sent-by-robots
    """
    if reply.card is None:
        return "sampleText", _json({"content": reply.text})
    title, text = markdown_of(reply, locale)
    return "sampleMarkdown", _json({"title": title, "text": text})


def image_message(media_id: str) -> tuple[str, str]:
    """`sampleImageMsg` accepts an uploaded media id in `photoURL`."""
    return "sampleImageMsg", _json({"photoURL": media_id})


def card_params(reply: Reply) -> dict[str, str]:
    """`cardParamMap` for our alert card template (every value must be a string).

    The template (adapters/dingtalk/card_template.py, imported from
    deploy/dingtalk-card-template.json) binds `title`, `content` (markdown) and `btns`, the
    button group's list as a JSON string (`button_group`). The per-button strings
    (`actions_visible` "true"/"false", `<action>_label`, `<action>_value`) serve a template
    built by hand with two fixed callback buttons (docs/setup/dingtalk.md step 5).
    """
    card = reply.card
    title = card.title if card else _title_of(reply.text)
    # The template renders `content` as markdown: list items, as lines joined by a bare newline
    # would run together into one paragraph.
    content = "\n".join(_field_lines(card)) if card and card.fields else inert_lines(reply.text)
    params = {
        "title": title,
        "content": content,
        "actions_visible": "true" if card and card.buttons else "false",
        "btns": _json(button_group(card.buttons if card else ())),
    }
    for button in card.buttons if card else ():
        params[f"{button.action}_label"] = button.label
        params[f"{button.action}_value"] = button.value
    return params


def button_group(buttons: tuple[Button, ...]) -> list[dict[str, Any]]:
    """The card's buttons as the builder's dynamic button list (variable `btns`).

    Each is a callback (`sendCardRequest`) with actionId `<action>` and one parameter `value`,
    which DingTalk posts back in `cardPrivateData` for `inbound.parse_card_callback`; an
    acknowledged card has none (`[]`), so nothing is left to click. Item shape as LangBot sends
    it (langbot-app/LangBot, src/langbot/pkg/platform/sources/dingtalk.py `_build_btns`).
    """
    return [
        {
            "text": button.label,
            "color": "blue" if index == 0 else "gray",
            "status": "normal",
            "event": {
                "type": "sendCardRequest",
                "params": {"actionId": button.action, "params": {"value": button.value}},
            },
        }
        for index, button in enumerate(buttons)
    ]


def _field_lines(card: Card) -> list[str]:
    """One markdown list item per field; every value may hold user text (a name from the HR
    file), so it is made inert."""
    return [f"- **{inert(field.label)}**: {inert(field.value)}" for field in card.fields]


def _title_of(text: str) -> str:
    """Markdown messages need a title (shown in the chat list): the first line, shortened."""
    first = text.strip().splitlines()[0] if text.strip() else "coverwatch"
    return first[:40]


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)
