"""The console adapter: scripted lines in, rendered replies out, `/as` and `/quit`."""

from __future__ import annotations

import asyncio
import io

from adapters.base import ChatAdapter, HttpReceiver
from adapters.console import ConsoleAdapter, render
from handlers.types import Button, Card, Field, Message, Recipient, Reply
from tests.support.inbound import RecordingSink

CARD = Reply(
    text="fallback text",
    card=Card(
        title="Overdue: shanghai 2026-11",
        fields=(Field(label="Principal", value="5430.00 CNY"), Field(label="Days", value="4")),
        buttons=(
            Button(action="ack", label="Acknowledge", value="12"),
            Button(action="snooze", label="Snooze 4h", value="12:4h"),
        ),
    ),
)


def test_a_card_renders_as_its_text_and_buttons_as_commands_to_type() -> None:
    assert render(CARD) == "fallback text\n[ack 12] [snooze 12 4h]"


def test_a_plain_reply_renders_as_its_text() -> None:
    assert render(Reply(text="hello\nworld")) == "hello\nworld"


def _chat(lines: str, user: str = "E1") -> tuple[list[Message], str]:
    asked: list[Message] = []

    def respond(message: Message) -> Reply:
        asked.append(message)
        return Reply(text=f"answer to {message.user_id}: {message.text}")

    output = io.StringIO()
    known = {"E1": "E1 张三, employee", "H1": "H1 王芳, hr"}
    adapter = ConsoleAdapter(
        user_id=user, input=io.StringIO(lines), output=output, describe_user=known.get
    )
    adapter.chat(respond)
    return asked, output.getvalue()


def test_each_line_is_a_direct_console_message_until_eof() -> None:
    asked, output = _chat("我的医保\n\n  coverage  \n")
    assert [m.text for m in asked] == ["我的医保", "coverage"]
    assert all(m.platform == "console" and m.is_direct and m.user_id == "E1" for m in asked)
    assert asked[0].conversation_id == "console:E1"
    assert len({m.event_id for m in asked}) == 2
    assert output.splitlines() == [
        "E1> 我的医保",
        "answer to E1: 我的医保",
        "",
        "E1> coverage",
        "answer to E1: coverage",
        "",
    ]


def test_as_switches_the_speaker_and_quit_stops_reading() -> None:
    asked, output = _chat("/as H1\n欠费\n/as\n/as X9\nhelp\n/quit\nnever read\n")
    assert [(m.user_id, m.text) for m in asked] == [("H1", "欠费"), ("X9", "help")]
    assert "(now speaking as H1 王芳, hr)" in output
    assert "usage: /as EMPLOYEE_ID" in output
    assert "(now speaking as X9)" in output  # unknown here: the pipeline will say so
    assert "never read" not in output


def test_without_a_speaker_lines_wait_for_as() -> None:
    asked, output = _chat("help\n/as E1\nhelp\n", user="")
    assert [m.user_id for m in asked] == ["E1"]
    assert "who is speaking? /as EMPLOYEE_ID first" in output


def test_send_prints_a_header_naming_the_recipient() -> None:
    output = io.StringIO()
    adapter: ChatAdapter = ConsoleAdapter(user_id="", output=output)
    recipient = Recipient(platform="console", address="H1", employee_id="H1")
    first = asyncio.run(adapter.send(recipient, CARD, key="alert-12-stage-0-console-H1"))
    second = asyncio.run(adapter.send(recipient, Reply(text="again"), key="k2"))
    assert (first, second) == ("console:1", "console:2")
    lines = output.getvalue().splitlines()
    assert lines[0] == "--- to H1 (console message 1) ---"
    assert lines[1] == "fallback text"
    asyncio.run(adapter.update(first, Reply(text="acknowledged by H1")))
    assert output.getvalue().endswith("--- console:1 updated ---\nacknowledged by H1\n")


def test_the_runtime_receives_lines_through_the_sink() -> None:
    sink = RecordingSink()
    output = io.StringIO()
    adapter = ConsoleAdapter(
        user_id="E1", input=io.StringIO("coverage\n/as H1\n欠费\n"), output=output
    )

    async def scenario() -> None:
        await adapter.start(sink)
        assert adapter._reader is not None
        await asyncio.to_thread(adapter._reader.join, 5)
        await adapter.reply(sink.events[0][1], Reply(text="active"))
        await adapter.stop()

    asyncio.run(scenario())
    received = sink.events
    assert [(e.user_id, getattr(e, "text", None)) for e, _ in received] == [
        ("E1", "coverage"),
        ("H1", "欠费"),
    ]
    assert sink.retries == [False, False]  # a line is never typed again: spooled on an outage
    target = received[1][1]
    assert (target.platform, target.user_id, target.is_direct) == ("console", "H1", True)
    assert output.getvalue().endswith("active\n")


def test_a_chat_adapter_without_http_routes() -> None:
    adapter = ConsoleAdapter(user_id="E1")
    assert isinstance(adapter, ChatAdapter)
    assert not isinstance(adapter, HttpReceiver)
