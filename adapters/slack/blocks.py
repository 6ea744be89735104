"""Render a neutral `Reply` as Slack message fields: mrkdwn fallback text plus Block Kit blocks.

`text` stays the complete answer: Slack shows it in notifications and to clients that cannot
render blocks (https://docs.slack.dev/reference/methods/chat.postMessage#text-blocks-attachments).
"""

from __future__ import annotations

from typing import Any

from handlers.types import Button, Card

# Block Kit limits: header text 150 chars, 10 fields per section, 2000 chars per field text,
# button text 75 chars (https://docs.slack.dev/reference/block-kit/blocks/header-block,
# .../blocks/section-block, .../block-elements/button-element).
_HEADER_MAX = 150
_FIELDS_PER_SECTION = 10
_FIELD_MAX = 2000
_BUTTON_TEXT_MAX = 75
_BUTTON_STYLES = frozenset({"primary", "danger"})

Block = dict[str, Any]


def escape(text: str) -> str:
    """Slack treats `&`, `<`, `>` as control characters in mrkdwn and plain text.

    https://docs.slack.dev/messaging/formatting-message-text#escaping
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def card_blocks(card: Card | None) -> list[Block]:
    """Header, the card's figures as section fields, and its buttons in one actions block."""
    if card is None:
        return []
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": card.title[:_HEADER_MAX], "emoji": True},
        }
    ]
    for start in range(0, len(card.fields), _FIELDS_PER_SECTION):
        chunk = card.fields[start : start + _FIELDS_PER_SECTION]
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {
                        "type": "mrkdwn",
                        "text": f"*{escape(field.label)}*\n{escape(field.value)}"[:_FIELD_MAX],
                    }
                    for field in chunk
                ],
            }
        )
    if card.buttons:
        blocks.append({"type": "actions", "elements": [_button(b) for b in card.buttons]})
    return blocks


def _button(button: Button) -> Block:
    element: Block = {
        "type": "button",
        "action_id": button.action,
        "text": {"type": "plain_text", "text": button.label[:_BUTTON_TEXT_MAX], "emoji": True},
        "value": button.value,
    }
    if button.style in _BUTTON_STYLES:
        element["style"] = button.style
    return element
