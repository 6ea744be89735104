"""deploy/dingtalk-card-template.json is what `adapters.dingtalk.card_template` writes, and the
template in it fits the adapter: every variable it binds or declares is in the `cardParamMap`
the adapter sends, and every button it will show is a callback `parse_card_callback` reads back
as the same action (issue 16).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.dingtalk import card_template, render
from adapters.dingtalk.inbound import parse_card_callback
from adapters.dingtalk.outbound import CALLBACK_TYPE, Robot
from handlers.alert_actions import BUTTON_ACTIONS
from handlers.types import Action, Card, Recipient, Reply
from tests.support.dingtalk import payload

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "dingtalk-card-template.json"


def editor_data() -> dict[str, Any]:
    envelope = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    assert (envelope["type"], envelope["mode"]) == ("im", "card")
    assert isinstance(envelope["editorData"], str)  # the builder's export nests it as a string
    loaded: dict[str, Any] = json.loads(envelope["editorData"])
    return loaded


def nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("children", []):
        yield from nodes(child)


def bound_variables(tree: list[dict[str, Any]]) -> set[str]:
    """Every variable a component shows: `${name}` texts and variable bindings."""
    names: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("type") == "variableValue" and value.get("variable"):
                names.add(value["variable"])
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)
        elif isinstance(value, str) and value.startswith("${") and value.endswith("}"):
            names.add(value[2:-1])

    walk(tree)
    return names


def test_the_file_is_the_generator_output() -> None:
    fresh = card_template.import_file()
    assert TEMPLATE.read_text(encoding="utf-8") == fresh, (
        "regenerate: python -m adapters.dingtalk.card_template > deploy/dingtalk-card-template.json"
    )


def test_a_message_card_with_title_markdown_and_a_button_group() -> None:
    data = editor_data()
    assert data["extension"]["extendType"] == "NORMAL"  # a message card, not an AI card
    (root,) = data["schema"]["componentsTree"]
    used = [node["componentName"] for node in nodes(root)]
    assert used == ["Card", "BaseText", "MarkdownBlock", "ButtonGroup"]
    assert {c["componentName"] for c in data["schema"]["componentsMap"]} == set(used)
    group = next(node for node in nodes(root) if node["componentName"] == "ButtonGroup")
    assert group["props"]["buttonsSource"] == "variable"
    markdown = next(node for node in nodes(root) if node["componentName"] == "MarkdownBlock")
    assert markdown["props"]["content"]["varType"] == "markdown"


def test_every_variable_is_what_the_adapter_sends() -> None:
    data = editor_data()
    declared = {variable["name"] for variable in data["variableList"]}
    bound = bound_variables(data["schema"]["componentsTree"])
    assert bound == {v.name for v in card_template.BOUND}
    assert bound <= declared
    sent = render.card_params(card_template.example())
    assert declared == set(sent)
    assert data["mockData"]["cardData"].keys() == sent.keys()
    # An acknowledged card sends the same keys it binds, with no buttons left to click.
    closed = render.card_params(Reply(text="done", card=Card(title="done", fields=())))
    assert bound <= set(closed) and json.loads(closed["btns"]) == []
    assert closed["actions_visible"] == "false"


@pytest.mark.parametrize("where", ["cardPrivateData", "top level"])
def test_each_button_round_trips_through_the_callback_parser(where: str) -> None:
    buttons = json.loads(render.card_params(card_template.example())["btns"])
    assert [b["event"]["params"]["actionId"] for b in buttons] == list(BUTTON_ACTIONS)
    for button in buttons:
        assert button["event"]["type"] == "sendCardRequest"
        request = button["event"]["params"]
        # What DingTalk posts back for a click on this button reaches the handlers as-is.
        private: dict[str, Any] = {"params": request["params"]}
        changes: dict[str, Any] = {}
        if where == "cardPrivateData":
            private["actionIds"] = [request["actionId"]]
        else:
            changes["actionId"] = request["actionId"]
        content = json.dumps({"cardPrivateData": private})
        parsed = parse_card_callback(payload("card_callback", content=content, **changes), "f1")
        assert parsed is not None and isinstance(parsed[0], Action)
        assert (parsed[0].action_id, parsed[0].value) == (
            request["actionId"],
            request["params"]["value"],
        )


@pytest.mark.anyio
async def test_cards_are_created_with_every_variable_and_the_stream_callback() -> None:
    calls: list[dict[str, Any]] = []

    class Recording:
        async def call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
            calls.append(body)
            return {}

    robot = Robot(Recording(), robot_code="dingbot", media_upload_url="")  # type: ignore[arg-type]
    target = Recipient(platform="dingtalk", address="u1", is_group=False)
    await robot.card("tpl.schema", target, card_template.example(), "k1")
    assert calls[0]["callbackType"] == CALLBACK_TYPE == "STREAM"
    declared = {variable["name"] for variable in editor_data()["variableList"]}
    assert set(calls[0]["cardData"]["cardParamMap"]) == declared
