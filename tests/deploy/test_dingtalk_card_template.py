"""deploy/dingtalk-card-template.json lists exactly the variables and buttons the DingTalk
adapter sends and reads back, so the template HR builds from it fits the code (issue 16).

Variables: `render.card_params` of an open alert's card (buttons shown) and of one without
buttons; buttons: `handlers.alert_actions.BUTTON_ACTIONS`, read back by
`inbound.parse_card_callback` from `cardPrivateData.actionIds` and `params.value`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from adapters.dingtalk import render
from adapters.dingtalk.inbound import parse_card_callback
from adapters.dingtalk.outbound import Robot
from handlers.alert_actions import BUTTON_ACTIONS
from handlers.types import Action, Button, Card, Field, Recipient, Reply
from tests.support.dingtalk import payload

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "dingtalk-card-template.json"
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    return loaded


def open_alert() -> Reply:
    buttons = tuple(Button(action=a, label=f"{a} #12", value="12") for a in BUTTON_ACTIONS)
    card = Card(title="北京 2025-06", fields=(Field(label="欠缴", value="¥1.00"),), buttons=buttons)
    return Reply(text="北京 2025-06", card=card)


def test_the_variables_are_what_the_adapter_sends() -> None:
    names = {variable["name"] for variable in template()["variables"]}
    sent = render.card_params(open_alert())
    assert names == set(sent)
    # An acknowledged card carries no buttons: a subset, with the buttons hidden.
    closed = render.card_params(Reply(text="done", card=Card(title="done", fields=())))
    assert set(closed) <= names and closed["actions_visible"] == "false"


def test_each_button_is_an_action_the_adapter_reads_back() -> None:
    names = {variable["name"] for variable in template()["variables"]}
    buttons = template()["buttons"]
    assert [b["actionId"] for b in buttons] == list(BUTTON_ACTIONS)
    for button in buttons:
        used = PLACEHOLDER.findall(button["label"] + json.dumps(button["params"]))
        assert set(used) <= names, f"{button['actionId']} uses an undeclared variable"
        assert set(button["params"]) == {"value"}
        # What DingTalk posts back for a click on this button reaches the handlers as-is.
        click = {"actionIds": [button["actionId"]], "params": {"value": "12"}}
        content = {"cardPrivateData": click}
        parsed = parse_card_callback(payload("card_callback", content=json.dumps(content)), "f1")
        assert parsed is not None and isinstance(parsed[0], Action)
        assert (parsed[0].action_id, parsed[0].value) == (button["actionId"], "12")


@pytest.mark.anyio
async def test_the_callback_type_is_the_one_the_card_is_created_with() -> None:
    calls: list[dict[str, Any]] = []

    class Recording:
        async def call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
            calls.append(body)
            return {}

    robot = Robot(Recording(), robot_code="dingbot", media_upload_url="")  # type: ignore[arg-type]
    target = Recipient(platform="dingtalk", address="u1", is_group=False)
    await robot.card("tpl.schema", target, open_alert(), "k1")
    assert calls[0]["callbackType"] == template()["callback_type"]
    assert set(calls[0]["cardData"]["cardParamMap"]) == {v["name"] for v in template()["variables"]}
