"""Stream CALLBACK frames -> neutral `Message` / `Action`, acked whatever happens.

Stream mode needs no signature check: the connection itself was opened with the app's
credentials (https://open.dingtalk.com/document/direction/stream-mode-protocol-access-description).
Every frame is acked with code 200, even one we cannot parse: an unacked frame is redelivered
(seen 16–60 s later), so a poison frame would otherwise come back forever. Duplicates keep their
frame `messageId` as `event_id`, and the runtime drops them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from dingtalk_stream import (  # type: ignore[import-untyped]
    AckMessage,
    CallbackHandler,
    CallbackMessage,
    ChatbotMessage,
)
from dingtalk_stream.card_callback import CardCallbackMessage  # type: ignore[import-untyped]

from adapters.base import ReplyTarget
from handlers.types import Action, Message

log = logging.getLogger(__name__)

PLATFORM = "dingtalk"
BOT_TOPIC = ChatbotMessage.TOPIC  # /v1.0/im/bot/messages/get
CARD_TOPIC = CallbackHandler.TOPIC_CARD_CALLBACK  # /v1.0/card/instances/callback
_LEADING_MENTIONS = re.compile(r"^(?:\s*@\S+)+\s*")

Event = tuple[Message | Action, ReplyTarget]


def parse_bot_message(data: Mapping[str, Any], message_id: str) -> Event | None:
    """A chatbot message (fields as `ChatbotMessage.from_dict` reads them), text only."""
    msg = ChatbotMessage.from_dict(dict(data))
    if msg.message_type != "text" or msg.text is None or not msg.sender_staff_id:
        return None
    is_direct = msg.conversation_type == "1"  # '1' single chat, '2' group
    text = msg.text.content or ""
    if not is_direct:
        # In groups the bot only hears @-mentions; the content may still start with "@name".
        text = _LEADING_MENTIONS.sub("", text)
    message = Message(
        platform=PLATFORM,
        user_id=msg.sender_staff_id,
        conversation_id=msg.conversation_id or "",
        is_direct=is_direct,
        text=text.strip(),
        event_id=message_id,
    )
    extra = {}
    if msg.session_webhook:
        extra["session_webhook"] = msg.session_webhook
        extra["session_webhook_expires_ms"] = str(msg.session_webhook_expired_time or 0)
    target = ReplyTarget(
        platform=PLATFORM,
        conversation_id=message.conversation_id,
        user_id=message.user_id,
        is_direct=is_direct,
        extra=extra,
    )
    return message, target


def parse_card_callback(data: Mapping[str, Any], message_id: str) -> Event | None:
    """A card button click: `content.cardPrivateData.actionIds[0]` and `params.value`.

    A button of a variable-bound group (`btns`, the imported template) may carry its actionId
    at the top of the frame's data instead: LangBot reads it there for the same button shape
    (langbot-app/LangBot, src/langbot/libs/dingtalk_api/card_callback.py), so both are read.
    """
    callback = CardCallbackMessage.from_dict(dict(data))
    private = callback.content.get("cardPrivateData", {}) if callback.content else {}
    action_ids = private.get("actionIds") or [data.get("actionId")]
    value = (private.get("params") or {}).get("value")
    if not action_ids[0] or value is None or not callback.user_id:
        return None
    is_group = "GROUP" in str(data.get("spaceType", "")).upper()
    conversation_id = str(data.get("spaceId") or callback.user_id)
    action = Action(
        platform=PLATFORM,
        user_id=callback.user_id,
        conversation_id=conversation_id,
        action_id=str(action_ids[0]),
        value=str(value),
        event_id=message_id,
        message_ref=callback.card_instance_id or None,
    )
    target = ReplyTarget(
        platform=PLATFORM,
        conversation_id=conversation_id,
        user_id=callback.user_id,
        is_direct=not is_group,
    )
    return action, target


class FrameHandler(CallbackHandler):  # type: ignore[misc]
    """Parses one topic's frames and passes events on; acks 200 once the event is stored."""

    def __init__(
        self,
        parse: Callable[[Mapping[str, Any], str], Event | None],
        deliver: Callable[[Message | Action, ReplyTarget], Awaitable[None]],
    ) -> None:
        super().__init__()
        self._parse = parse
        self._deliver = deliver

    async def process(self, message: CallbackMessage) -> tuple[int, str]:
        message_id = str(message.headers.message_id or "")
        try:
            data = message.data if isinstance(message.data, dict) else json.loads(message.data)
            event = self._parse(data, message_id)
            if event is None:
                log.info("dingtalk frame %s ignored (not a text message or button)", message_id)
            else:
                await self._deliver(*event)
        except Exception:  # a bad frame must still be acked, or DingTalk redelivers it forever
            log.exception("dingtalk frame %s could not be handled", message_id)
        return AckMessage.STATUS_OK, "OK"
