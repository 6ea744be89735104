"""The alert buttons: which actions exist, what a button carries, and how it is read back.

One home for the pieces every platform and every card share, so an action id, the default
snooze or the shape of an alert id is never spelled twice: the `alerts` list and the alert
notice build their buttons here, adapters subscribe to `BUTTON_ACTIONS`, and the pipeline maps a
click to its command with `BUTTON_COMMANDS`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from handlers.i18n import translate
from handlers.types import Button
from storage.models import Alert

ACK = "ack"
SNOOZE = "snooze"
BUTTON_COMMANDS: Mapping[str, str] = {ACK: "ack", SNOOZE: "snooze"}
"""Button action id -> the chat command the click runs (ARCHITECTURE.md §3: `ack`, `snooze`)."""
BUTTON_ACTIONS: tuple[str, ...] = tuple(BUTTON_COMMANDS)
DEFAULT_SNOOZE = "4h"
"""What the snooze button and a bare `snooze ID` pause for."""
_ALERT_ID = re.compile(r"#*([0-9]{1,18})")
"""Alert ids are 64-bit integers: `isdigit()` would also take '²', and 19 digits may overflow."""


def parse_alert_id(text: str) -> int | None:
    """`12` or `#12` -> 12; None for anything else (never raises on what a user typed)."""
    match = _ALERT_ID.fullmatch(text)
    return int(match.group(1)) if match else None


def button_arguments(value: str) -> tuple[str, ...]:
    """A button's value as command arguments: `12` -> (`12`,), `12:4h` -> (`12`, `4h`)."""
    return tuple(part for part in value.split(":") if part)


def alert_buttons(alert: Alert, *, locale: str) -> tuple[Button, ...]:
    """Acknowledge and snooze one open alert, labelled in the reader's language."""
    alert_id = alert.id
    return (
        Button(
            action=ACK,
            label=translate(locale, "button.ack", id=alert_id),
            value=str(alert_id),
            style="primary",
        ),
        Button(
            action=SNOOZE,
            label=translate(locale, "button.snooze", id=alert_id),
            value=f"{alert_id}:{DEFAULT_SNOOZE}",
        ),
    )
