"""Log records are made safe where they are made: redacted, one line, no bodies on the wire."""

from __future__ import annotations

import logging

import pytest

import bot  # noqa: F401  (importing coverwatch's outer package installs the factory)
from bot.log_safety import clean, redact, wire_summary

ID_NUMBER = "110101199001011234"


def test_full_id_numbers_are_masked_as_chat_masks_them() -> None:
    assert redact(f"id {ID_NUMBER}, other 44030119850202345X") == (
        "id 110101********1234, other 440301********345X"
    )
    assert redact("order 12345678901234567890") == "order 12345678901234567890"


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("token xoxb-1234-5678-abcdEFGH sent", "1234-5678-abcdEFGH"),
        ("app xapp-1-A111-222-secretvalue", "A111-222-secretvalue"),
        ("Authorization: Bearer cw_live_SECRET123", "cw_live_SECRET123"),
        ("GET /cgi-bin/gettoken?corpid=ww1&corpsecret=S3CRET", "S3CRET"),
        ('{"client_secret": "dt-secret-value"}', "dt-secret-value"),
        ("COVERWATCH_SECURITY__DATA_KEY=o-ZsOkSw9aVyN8W29vVilUAAcWEsLxadX26G9MrnPiY=", "o-ZsOk"),
        ("encoding_aes_key: kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aQ", "kWxPEV2U"),
    ],
)
def test_credentials_are_replaced(text: str, gone: str) -> None:
    assert gone not in redact(text)
    assert "[redacted]" in redact(text)


def test_control_characters_are_escaped_so_no_line_can_be_forged() -> None:
    forged = "E001\n2026-12-04T10:00:00+08:00 ERROR bot.runtime: database wiped\r\x1b[2J"
    assert clean(forged) == (
        "E001\\n2026-12-04T10:00:00+08:00 ERROR bot.runtime: database wiped\\r\\x1b[2J"
    )


def test_wire_lines_keep_method_and_path_but_not_query_or_body() -> None:
    line = (
        "Received the following response - status: 200, headers: {}, "
        'body: {"ok": true, "text": "base 36348.00"}'
    )
    assert (
        wire_summary(line)
        == "Received the following response - status: 200, headers: {}, body omitted"
    )
    request = 'http://127.0.0.1:9 "GET /cgi-bin/gettoken?corpid=ww1&corpsecret=S3 HTTP/1.1" 200 80'
    assert wire_summary(request) == 'http://127.0.0.1:9 "GET /cgi-bin/gettoken?… HTTP/1.1" 200 80'


def test_records_from_any_logger_are_safe_whoever_captures_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("bot.test").info("asked by %s: %s", "E001\nFORGED", ID_NUMBER)
    logging.getLogger("bot.test").info("token=%s kept as an argument", "xoxb-1-2-abc")
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s', "http", "127.0.0.1", 9, "GET",
        "/cgi-bin/gettoken?corpsecret=S3CRET", "HTTP/1.1", 200, 80,
    )  # fmt: skip
    logging.getLogger("slack_sdk.web.base_client").debug("body: {'text': %s}", ID_NUMBER)
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0] == "asked by E001\\nFORGED: 110101********1234"
    assert lines[1] == "token=xoxb-[redacted] kept as an argument"
    assert "S3CRET" not in lines[2] and "/cgi-bin/gettoken?…" in lines[2]
    assert lines[3] == "body omitted"


def test_uvicorn_access_records_keep_their_argument_shape() -> None:
    args = ("127.0.0.1:5000", "POST", "/slack/events", "1.1", 200)
    access = logging.getLogger("uvicorn.access")
    record = access.makeRecord(
        access.name, logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    assert record.args == args
