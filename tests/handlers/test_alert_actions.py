"""The one home of the alert buttons: action ids, button values and alert ids read back."""

from __future__ import annotations

import pytest

from handlers.alert_actions import (
    BUTTON_ACTIONS,
    BUTTON_COMMANDS,
    DEFAULT_SNOOZE,
    alert_buttons,
    button_arguments,
    parse_alert_id,
)
from handlers.pipeline import router
from storage.models import Alert


@pytest.mark.parametrize(("text", "expected"), [("12", 12), ("#12", 12), ("0012", 12)])
def test_alert_ids_are_read_with_or_without_the_hash(text: str, expected: int) -> None:
    assert parse_alert_id(text) == expected


@pytest.mark.parametrize("text", ["", "#", "twelve", "1.5", "-3", "²", "1" * 19, "12 ", "12:4h"])
def test_anything_else_is_not_an_alert_id(text: str) -> None:
    assert parse_alert_id(text) is None


def test_every_button_runs_a_command_that_exists() -> None:
    assert tuple(BUTTON_COMMANDS) == BUTTON_ACTIONS
    for command in BUTTON_COMMANDS.values():
        assert router().get(command) is not None


def test_the_buttons_carry_what_their_commands_take_back() -> None:
    ack, snooze = alert_buttons(Alert(id=42, dedupe_key="k", kind="overdue"), locale="en")
    assert (ack.action, button_arguments(ack.value), ack.style) == ("ack", ("42",), "primary")
    assert (snooze.action, button_arguments(snooze.value)) == ("snooze", ("42", DEFAULT_SNOOZE))
    assert ack.label == "Acknowledge #42"
