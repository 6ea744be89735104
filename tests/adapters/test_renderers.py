"""One `Reply` (the paged alert list), rendered by every platform and the console: each shows
the same figures and offers a button (or its typed command) for every alert on the page."""

from __future__ import annotations

import json

from adapters.console import render
from adapters.dingtalk.render import markdown_of
from adapters.slack.blocks import card_blocks
from adapters.wecom.render import button_key, template_card
from core.locales import ZH_CN
from handlers.context import AppContext
from handlers.types import Reply
from tests.handlers.commands.test_alerts import add_alert, seed_alerts
from tests.handlers.conftest import app, asker

__all__ = ["app"]  # the seeded company fixture of the conversation tests


def _page(app: AppContext) -> Reply:
    seed_alerts(app.engine)
    add_alert(app.engine, "kpi_below_target", "kpi:x", department="Sales")
    reply = asker(app)("E003", "告警")
    assert reply.card is not None
    return reply


def test_every_renderer_shows_every_row_and_every_button(app: AppContext) -> None:
    reply = _page(app)
    card = reply.card
    assert card is not None
    rows = [field.value for field in card.fields if field.label.startswith("#")]
    assert len(rows) == 3 and len(card.buttons) == 6
    console = render(reply)
    slack = json.dumps(card_blocks(card), ensure_ascii=False)
    _, dingtalk = markdown_of(reply, ZH_CN)
    wecom = template_card(card, task_id="t1")["template_card"]
    for row in rows:
        assert row in console and row in reply.text and row in dingtalk
        assert any(item["value"] == row for item in wecom["horizontal_content_list"])
        assert row in slack
    for button in card.buttons:
        typed = f"{button.action} {button.value.replace(':', ' ')}"
        assert f"[{typed}]" in console
        assert f'"value": "{button.value}"' in slack
        assert {"text": button.label, "key": button_key(button)} in wecom["button_list"]
    assert dingtalk.count("回复「") == len(card.buttons)
