"""The alert card template, in the file format DingTalk's card builder imports.

`python -m adapters.dingtalk.card_template > deploy/dingtalk-card-template.json` writes it; a
test keeps the file equal to this output and its variables equal to what `render.card_params`
sends. One message card (not an AI card): a title text bound to `title`, a markdown block bound
to `content`, and a button group filled from the variable `btns` (`render.button_group`:
callback buttons with actionId `ack` / `snooze` and one parameter `value`). Cards are created
with `callbackType: STREAM` (`outbound.CALLBACK_TYPE`): clicks come back on the Stream link.

DingTalk publishes no spec of this format. The shape is the builder's own export as observed in
public files made from real exports: the envelope `{editorData, widgetInfo, type, mode}` with
`editorData` a JSON *string* (schemaVersion 3.0.0, `@ali/dxComponent` components, a
`variableList`), the `MarkdownBlock` binding with `varType: markdown`, and the `ButtonGroup`
bound to a `buttonGroup` variable (`buttonsSource: variable`) are as in langbot-app/LangBot
`scripts/build_dingtalk_card_template.py` (an AI card); the plain message card root `Card` with
`extension.extendType: NORMAL` and `BaseText` with a `${variable}` text are as in another public
card generator. Nothing here is copied from either; the structure is rebuilt from those notes.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from adapters.dingtalk import render
from handlers.alert_actions import BUTTON_ACTIONS
from handlers.types import Button, Card, Field, Reply


@dataclass(frozen=True)
class Variable:
    """One template variable: its name in `cardParamMap`, the builder's type, and why."""

    name: str
    type: str
    description: str


BOUND: tuple[Variable, ...] = (
    Variable("title", "string", "告警标题 the alert's headline; also the chat-list summary"),
    Variable("content", "markdown", "告警内容 one `- **label**: value` item per field"),
    Variable("btns", "buttonGroup", "按钮 Acknowledge/Snooze callbacks; [] once acknowledged"),
)
"""The variables the imported template's components show."""

FIXED_BUTTON_VARIABLES: tuple[Variable, ...] = (
    Variable("actions_visible", "string", '"true" while the alert is open, else "false"'),
    *(
        variable
        for action in BUTTON_ACTIONS
        for variable in (
            Variable(f"{action}_label", "string", f"the {action} button's text"),
            Variable(f"{action}_value", "string", f"the {action} callback's `value` parameter"),
        )
    ),
)
"""Also sent, for a template built by hand with fixed callback buttons (docs step 5)."""

_COMPONENTS = ("Card", "BaseText", "MarkdownBlock", "ButtonGroup")


def example() -> Reply:
    """An open alert as the builder previews it (the template's mock data)."""
    buttons = (
        Button(action=BUTTON_ACTIONS[0], label="确认", value="12"),
        Button(action=BUTTON_ACTIONS[1], label="暂缓 4 小时", value="12:4h"),
    )
    fields = (Field(label="城市", value="北京"), Field(label="欠缴", value="¥1,234.00"))
    card = Card(title="社保逾期：北京 2025-06", fields=fields, buttons=buttons)
    return Reply(text=card.title, card=card)


def import_file() -> str:
    """The whole import file, as written to deploy/dingtalk-card-template.json."""
    envelope = {
        "editorData": json.dumps(_editor_data(), ensure_ascii=False, separators=(",", ":")),
        "widgetInfo": "",
        "type": "im",
        "mode": "card",
    }
    return json.dumps(envelope, ensure_ascii=False, indent=2) + "\n"


def _editor_data() -> dict[str, Any]:
    preview: dict[str, Any] = dict(render.card_params(example()))
    preview["btns"] = json.loads(preview["btns"])  # the editor previews the list, not its JSON
    return {
        "schemaVersion": "3.0.0",
        "schema": {
            "version": "1.0.0",
            "config": None,
            "componentsMap": [_component(name) for name in _COMPONENTS],
            "componentsTree": [_root()],
            "i18n": {},
        },
        "mockData": {
            "cardData": preview,
            "cardPrivateData": {},
            "localData": {},
            "richTextData": {},
        },
        "editVersion": 0,
        "customWidgetInfo": "",
        "useCustomWidgetInfo": False,
        "variableList": [_declare(v) for v in BOUND + FIXED_BUTTON_VARIABLES],
        "formList": [],
        "customContextList": [],
        "expList": [],
        "localList": [],
        "hsfList": [],
        "lwpList": [],
        "pageData": {},
        "extension": {"extendType": "NORMAL", "fileTypeList": []},
    }


def _component(name: str) -> dict[str, Any]:
    return {
        "package": "@ali/dxComponent",
        "version": "1.0.0",
        "exportName": name,
        "main": "./src/index.tsx",
        "destructuring": False,
        "subName": "",
        "componentName": name,
    }


def _root() -> dict[str, Any]:
    props = {
        "summaryContent": _bind("title"),
        "enableClickEvent": False,
        "showCloseButton": False,
        "autoFoldConfig": {
            "needFold": False,
            "heightLimit": 480,
            "foldStatusLocalDataKey": "_cardFoldStatusLocalDataKey",
        },
        "paddingTop": 0,
        "paddingBottom": 0,
        "paddingLeft": 0,
        "paddingRight": 0,
    }
    children = [_title(), _content(), _buttons()]
    return _node("Card", "cw_root", "coverwatch alert", props, children)


def _title() -> dict[str, Any]:
    props = {
        "text": {"type": "dynamicString", "content": "${title}", "i18n": False},
        "bold": True,
        "fontSizeType": "Custom",
        "customFontSize": 16,
        "customFontLineHeight": 24,
        "maxLine": {
            "type": "dynamicNumber",
            "valueType": "fixed",
            "value": 2,
            "variable": "",
            "variableType": "global",
        },
        "gravity": "left",
        **_margins(top=12, bottom=4),
        "visible": _always(),
    }
    return _node("BaseText", "cw_title", "标题 title", props)


def _content() -> dict[str, Any]:
    props = {
        "content": {**_bind("content"), "varType": "markdown"},
        "mdVer": 0,
        "isStreaming": False,
        "enableLinkStatPoint": False,
        **_margins(top=4, bottom=6),
        "visible": _always(),
    }
    return _node("MarkdownBlock", "cw_content", "内容 content", props)


def _buttons() -> dict[str, Any]:
    props = {
        "buttonsSource": "variable",
        "dynamicButtons": _bind("btns"),
        "fixedButtonIds": [],
        "fixedButtons": [],
        "buttonSpacing": 8,
        "matchContent": False,
        "enableResponsiveLayout": False,
        **_margins(top=6, bottom=12),
        "visible": _always(),
    }
    return _node("ButtonGroup", "cw_buttons", "按钮 btns", props)


def _node(
    component: str,
    node_id: str,
    title: str,
    props: dict[str, Any],
    children: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    node: dict[str, Any] = {
        "componentName": component,
        "id": node_id,
        "title": title,
        "props": props,
        "hidden": False,
        "isLocked": False,
        "condition": True,
        "conditionGroup": "",
    }
    if children is not None:
        node["children"] = children
    return node


def _bind(variable: str) -> dict[str, str]:
    return {"type": "variableValue", "variableType": "global", "variable": variable}


def _always() -> dict[str, Any]:
    return {
        "type": "dynamicVisible",
        "value": True,
        "valueType": "fixed",
        "condition": {"op": "and", "conditions": []},
    }


def _margins(*, top: int, bottom: int) -> dict[str, int]:
    return {"marginLeft": 12, "marginRight": 12, "marginTop": top, "marginBottom": bottom}


def _declare(variable: Variable) -> dict[str, Any]:
    declared = _field(variable.name, variable.name, variable.type, variable.description)
    declared["disabled"] = False
    if variable.type == "buttonGroup":
        # The builder's schema of a dynamic button: text, color, status and a click event
        # (`sendCardRequest` names the callback's actionId and parameters; `openLink` a url).
        name = variable.name
        request = _field(f"{name}.params", "params", "object")
        request["schema"] = [
            _field(f"{name}.url", "url", "string"),
            _field(f"{name}.actionId", "actionId", "string"),
            _field(f"{name}.params", "params", "object"),
        ]
        event = _field(f"{name}.event", "event", "dynamicEvent")
        event["schema"] = [_field(f"{name}.type", "type", "string"), request]
        declared["schema"] = [
            *(_field(f"{name}.{field}", field, "string") for field in ("text", "color", "status")),
            event,
        ]
    return declared


def _field(field_id: str, name: str, kind: str, description: str = "") -> dict[str, Any]:
    return {
        "id": field_id,
        "name": name,
        "type": kind,
        "description": description,
        "private": False,
        "editorVarType": "variables",
        "disabled": True,
    }


if __name__ == "__main__":
    sys.stdout.write(import_file())
