"""Platform-neutral conversation types: what every adapter produces and consumes.

Adapters translate platform payloads into these and back; handlers never see a payload.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field

from core.locales import DEFAULT_LOCALE, DEFAULT_TIMEZONE


@dataclass(frozen=True, kw_only=True)
class Message:
    """One inbound chat message, already verified by its adapter."""

    platform: str
    user_id: str
    """The platform's user id (Slack U…, DingTalk staff id, WeCom userid, console: employee id)."""
    conversation_id: str
    is_direct: bool
    text: str
    event_id: str
    locale: str | None = None


@dataclass(frozen=True, kw_only=True)
class Action:
    """A button click, turned into a neutral action by its adapter."""

    platform: str
    user_id: str
    conversation_id: str
    action_id: str
    """`ack` or `snooze` (the contract's button actions)."""
    value: str
    """What the button carries: the alert id (and for snooze, the duration, e.g. `12:4h`)."""
    event_id: str
    message_ref: str | None = None
    """Platform handle of the message that carried the button, to update it in place."""


@dataclass(frozen=True, kw_only=True)
class Button:
    action: str
    label: str
    value: str
    style: str | None = None
    """`primary` / `danger` where a platform can show it; a hint, never required."""


@dataclass(frozen=True, kw_only=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True, kw_only=True)
class Card:
    title: str
    fields: tuple[Field, ...] = ()
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Attachment:
    """A file to show with a reply (a KPI chart); platforms without images ignore it."""

    filename: str
    content: bytes
    mime_type: str = "image/png"


@dataclass(frozen=True, kw_only=True)
class PendingAttachment:
    """An attachment still being made in the slow lane (`handlers.slow_work`); whoever gave
    the handler that lane waits for it and sends the reply with it. Never reaches an adapter."""

    filename: str
    content: Future[bytes]
    mime_type: str = "image/png"

    def ready(self, content: bytes) -> Attachment:
        return Attachment(filename=self.filename, content=content, mime_type=self.mime_type)


@dataclass(frozen=True, kw_only=True)
class Reply:
    """What a handler returns. `text` is always the complete answer (the card's fallback)."""

    text: str
    card: Card | None = None
    ephemeral: bool = False
    """Personal answer asked in a shared place: show it only to the asker where possible."""
    attachments: tuple[Attachment, ...] = field(default=())
    pending: tuple[PendingAttachment, ...] = ()
    """Attachments the slow lane is still making (only with `AppContext.slow_work` set)."""
    updates: tuple[CardUpdate, ...] = ()
    """Cards sent earlier that this answer rewrites in place (an acknowledgement shows who and
    when on every copy of the alert); the runtime applies them after sending the answer."""


@dataclass(frozen=True, kw_only=True)
class CardUpdate:
    """One sent message to rewrite: the ref its platform's `send` returned, and the new content."""

    platform: str
    message_ref: str
    reply: Reply


@dataclass(frozen=True, kw_only=True)
class Recipient:
    """Where an outbound message goes on one platform."""

    platform: str
    address: str
    """A user id (direct message) or a channel/group/chat id."""
    is_group: bool = False
    employee_id: str | None = None
    locale: str = DEFAULT_LOCALE
    timezone: str = DEFAULT_TIMEZONE
