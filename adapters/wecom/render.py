"""Neutral replies as WeCom app-message payloads, and the refs that name what was sent.

Payload shapes: https://developer.work.weixin.qq.com/document/path/90236 (message/send:
text, markdown, image, template_card) and /path/90248 (appchat/send, which has no
template_card: group chats get the card as markdown plus the text fallback, whose typed
command replaces the buttons).
"""

from __future__ import annotations

from typing import Any

from adapters.markdown import inert, inert_lines
from handlers.types import Button, Card, Reply

# "消息内容，最长不超过2048个字节，超过将截断" (text and markdown, doc 90236): split rather
# than let WeCom cut the answer off.
CONTENT_LIMIT_BYTES = 2048
# button_interaction cards take at most 6 buttons and 6 horizontal_content_list rows.
MAX_BUTTONS = 6
MAX_ROWS = 6


def text_chunks(text: str, limit: int = CONTENT_LIMIT_BYTES) -> list[str]:
    """`text` in pieces of at most `limit` UTF-8 bytes, cut at line ends where possible."""
    chunks: list[str] = []
    current = ""
    for piece in _pieces(text, limit):
        if current and len((current + piece).encode()) > limit:
            chunks.append(current)
            current = ""
        current += piece
    chunks.append(current)
    return [chunk.rstrip("\n") for chunk in chunks]


def _pieces(text: str, limit: int) -> list[str]:
    pieces: list[str] = []
    for line in text.splitlines(keepends=True) or [""]:
        while len(line.encode()) > limit:
            cut = len(line.encode()[:limit].decode(errors="ignore"))
            pieces.append(line[:cut])
            line = line[cut:]
        pieces.append(line)
    return pieces


def text_messages(text: str) -> list[dict[str, Any]]:
    return [{"msgtype": "text", "text": {"content": chunk}} for chunk in text_chunks(text)]


def markdown_messages(reply: Reply, card: Card, *, with_text: bool) -> list[dict[str, Any]]:
    """The card as WeCom markdown; `with_text` appends the fallback (when buttons are dropped)."""
    # Labels, values and the text may hold user text (a name from the HR file): inert.
    lines = [
        f"**{inert(card.title)}**",
        *(f"> {inert(row.label)}：{inert(row.value)}" for row in card.fields),
    ]
    content = "\n".join(lines) + (f"\n\n{inert_lines(reply.text)}" if with_text else "")
    return [
        {"msgtype": "markdown", "markdown": {"content": chunk}} for chunk in text_chunks(content)
    ]


def button_key(button: Button) -> str:
    """`ack:12` / `snooze:12:4h`: what the click's EventKey carries back (≤ 1024 bytes)."""
    return f"{button.action}:{button.value}"


def template_card(card: Card, *, task_id: str) -> dict[str, Any]:
    """A `button_interaction` card; clicks come back as `template_card_event` callbacks."""
    return {
        "msgtype": "template_card",
        "template_card": {
            "card_type": "button_interaction",
            "main_title": {"title": card.title},
            "horizontal_content_list": [
                {"keyname": row.label, "value": row.value} for row in card.fields[:MAX_ROWS]
            ],
            # task_id: unique per app, only [0-9a-zA-Z_-@], at most 128 bytes.
            "task_id": task_id,
            "button_list": [
                {"text": button.label, "key": button_key(button)}
                for button in card.buttons[:MAX_BUTTONS]
            ],
        },
    }


def settled_label(reply: Reply) -> str:
    """What a greyed-out button says: the reply's last line, where an alert rendered after its
    acknowledgement says who and when (handlers.alert_render); the card title says neither."""
    lines = [line for line in reply.text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else (reply.card.title if reply.card else "")


def image_message(media_id: str) -> dict[str, Any]:
    return {"msgtype": "image", "image": {"media_id": media_id}}


def card_ref(user_id: str, response_code: str) -> str:
    """What `update()` needs: who sees the card and a one-use ResponseCode (valid 72 h)."""
    return f"card:{user_id}:{response_code}"


def parse_card_ref(ref: str) -> tuple[str, str] | None:
    """(user id, response code) of a card ref; None for refs of plain messages."""
    kind, _, rest = ref.partition(":")
    user_id, _, response_code = rest.partition(":")
    if kind != "card" or not user_id or not response_code:
        return None
    return user_id, response_code


def message_ref(msgid: str) -> str:
    return f"msg:{msgid}"


def chat_ref(chat_id: str) -> str:
    return f"chat:{chat_id}"
