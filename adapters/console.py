"""The console as a chat platform: one line in is one direct message, replies are printed.

It doubles as the test harness (as errbot's text backend does): with a non-tty stdin it reads
every line, answers, and returns at EOF, so `coverwatch demo < questions.txt` is scriptable.
The user id is an employee id (storage maps console users by employee id). Two lines are the
console's own: `/as EMPLOYEE_ID` switches the speaking user, `/quit` leaves.

`chat()` is the synchronous loop of `coverwatch demo`; `start(sink)` feeds the same lines to the
runtime, which answers through `reply()`, and `send()` prints proactive alerts, so `coverwatch
run` can use the console when no chat platform is enabled.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from collections.abc import Callable
from typing import TextIO

from adapters.base import InboundSink, RateLimit, ReplyTarget
from core.platforms import CONSOLE
from handlers.types import Message, Recipient, Reply

PLATFORM = CONSOLE
QUIT = "/quit"
SWITCH = "/as"


def render(reply: Reply) -> str:
    """What a terminal shows, and `coverwatch ask` prints: the reply's text (always the whole
    answer, the same the platforms fall back to), then its buttons as commands to type."""
    buttons = reply.card.buttons if reply.card is not None else ()
    if not buttons:
        return reply.text
    hints = (f"[{button.action} {button.value.replace(':', ' ')}]" for button in buttons)
    return reply.text + "\n" + " ".join(hints)


class ConsoleAdapter:
    """`ChatAdapter` for stdin/stdout (name "console"): no HTTP routes, no rate limit, and every
    message it printed can be "updated" (printed again under its ref)."""

    name = PLATFORM
    rate_limits: tuple[RateLimit, ...] = ()

    def __init__(
        self,
        *,
        user_id: str,
        input: TextIO | None = None,
        output: TextIO | None = None,
        describe_user: Callable[[str], str | None] | None = None,
    ) -> None:
        self.user_id = user_id
        self._input = input or sys.stdin
        self._output = output or sys.stdout
        self._describe_user = describe_user
        self._sent = 0
        self._reader: threading.Thread | None = None
        self._stopped = threading.Event()

    @classmethod
    def for_runtime(cls) -> ConsoleAdapter:
        """stdin/stdout with nobody speaking yet: `/as EMPLOYEE_ID` first (`coverwatch run`)."""
        return cls(user_id="")

    @property
    def interactive(self) -> bool:
        return self._input.isatty()

    def _print(self, text: str) -> None:
        self._output.write(text + "\n")
        self._output.flush()

    def _message(self, text: str) -> Message:
        return Message(
            platform=PLATFORM,
            user_id=self.user_id,
            conversation_id=f"{PLATFORM}:{self.user_id}",
            is_direct=True,
            text=text,
            event_id=f"{PLATFORM}-{uuid.uuid4().hex}",
        )

    def _read_line(self) -> str | None:
        """The next line, or None at EOF or `/quit`; `/as` lines are handled here."""
        while True:
            if self.interactive:
                self._output.write(f"{self.user_id}> ")
                self._output.flush()
            raw = self._input.readline()
            if not raw:
                return None
            line = raw.strip()
            if not line:
                continue
            if not self.interactive:  # a scripted transcript shows who asked what
                self._print(f"{self.user_id}> {line}")
            if line == QUIT:
                return None
            if line == SWITCH or line.startswith(SWITCH + " "):
                self._switch(line.removeprefix(SWITCH).strip())
                continue
            if not self.user_id:
                self._print(f"who is speaking? {SWITCH} EMPLOYEE_ID first")
                continue
            return line

    def _switch(self, user_id: str) -> None:
        if not user_id:
            self._print(f"usage: {SWITCH} EMPLOYEE_ID")
            return
        self.user_id = user_id
        who = self._describe_user(user_id) if self._describe_user else None
        self._print(f"(now speaking as {who or user_id})")

    def chat(self, respond: Callable[[Message], Reply]) -> None:
        """Answer each line with `respond` (the pipeline's `handle`) until EOF or `/quit`."""
        while (line := self._read_line()) is not None:
            self._print(render(respond(self._message(line))))
            self._print("")

    async def start(self, sink: InboundSink) -> None:
        """Feed lines to the runtime from a daemon thread: a blocked read never delays exit."""
        loop = asyncio.get_running_loop()

        def read() -> None:
            while not self._stopped.is_set() and (line := self._read_line()) is not None:
                message = self._message(line)
                target = ReplyTarget(
                    platform=PLATFORM,
                    conversation_id=message.conversation_id,
                    user_id=message.user_id,
                    is_direct=True,
                )
                # One line stored before the next is read: the user's order is kept.
                stored = asyncio.run_coroutine_threadsafe(
                    sink(message, target, platform_retries=False), loop
                )
                stored.result()

        self._reader = threading.Thread(target=read, name="console-reader", daemon=True)
        self._reader.start()

    async def stop(self) -> None:
        self._stopped.set()

    async def reply(self, target: ReplyTarget, reply: Reply) -> None:
        self._print(render(reply))

    async def send(self, recipient: Recipient, reply: Reply, *, key: str) -> str:
        """Print a proactive message under a header naming its recipient; returns its ref."""
        self._sent += 1
        who = recipient.employee_id or recipient.address
        self._print(f"--- to {who} ({PLATFORM} message {self._sent}) ---")
        self._print(render(reply))
        return f"{PLATFORM}:{self._sent}"

    async def update(self, message_ref: str, reply: Reply) -> None:
        self._print(f"--- {message_ref} updated ---")
        self._print(render(reply))
