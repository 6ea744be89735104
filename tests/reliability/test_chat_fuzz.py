"""Any text to any command, from an employee, a manager and HR: always a reply, never a crash.

Through `handlers.pipeline.handle`, the path every adapter takes. `handle` itself never raises
(it turns a failure into an apology), so the property checked is stronger: the reply is never
that apology, i.e. no command raised on any input. Inputs mix arbitrary Unicode with each
command word (English and Chinese) followed by awkward arguments: huge, negative and malformed
numbers, periods and durations, control characters, format strings, other people's ids.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.alert_rules import RuleSettings
from core.locales import ZH_CN
from handlers.context import AppContext
from handlers.i18n import translate
from handlers.pipeline import handle, router
from handlers.types import Action, Message, Reply
from storage.db import make_engine, upgrade
from storage.routing import Routing
from storage.scan import run_scan
from tests.support.company import NOW, make_app, seed

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
USERS = {"employee": "E001", "manager": "E002", "hr": "E003"}
APOLOGIES = {translate(locale, "error.internal") for locale in (ZH_CN, "en")}
WORDS = sorted({word for command in router() for word in (command.name, *command.aliases)})
AWKWARD = st.sampled_from(
    [
        "1", "2", "0", "-1", "99999999999999999999", "1e9", "NaN", "2025-06", "2025-13",
        "0000-00", "9999-12", "4h", "0h", "-4h", "100000d", "90m", "E001", "E005", "U001",
        "%s", "{id}", "{0}", "\x00", "\u202e", "１２", "二", "\n", "…", "'", '"', "--help",
    ]
)  # fmt: skip
texts = st.one_of(
    st.text(max_size=200),
    st.builds("{} {}".format, st.sampled_from(WORDS), st.text(max_size=60)),
    st.builds(
        lambda word, args: " ".join([word, *args]),
        st.sampled_from(WORDS),
        st.lists(st.one_of(AWKWARD, st.text(max_size=12)), max_size=4),
    ),
)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppContext]:
    """The handler tests' company, with the alerts a scan opens (so `ack 1` finds one)."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('chat')}/coverwatch.db")
    upgrade(engine)
    seed(engine)
    context = make_app(engine)
    run_scan(
        engine,
        as_of=NOW.date(),
        now=NOW,
        policies=context.policies,
        rules=RuleSettings(lead_days=(7, 3, 1)),
        routing=Routing(),
    )
    yield context
    engine.dispose()


def _check(reply: Reply) -> None:
    assert isinstance(reply, Reply)
    assert reply.text.strip()
    assert reply.text not in APOLOGIES, "a command raised on this input"


@pytest.mark.parametrize("role", sorted(USERS))
@FUZZ
@given(text=texts, is_direct=st.booleans())
def test_any_text_gets_a_reply(app: AppContext, role: str, text: str, is_direct: bool) -> None:
    message = Message(
        platform="console",
        user_id=USERS[role],
        conversation_id="D" if is_direct else "G-team",
        is_direct=is_direct,
        text=text,
        event_id="fuzz",
    )
    _check(handle(app, message))


@pytest.mark.parametrize(
    "event",
    [
        ("message", "ack 9223372036854775808"),
        ("message", "snooze 99999999999999999999 4h"),
        ("message", "plan 9223372036854775808 2"),
        ("ack", "9223372036854775808"),
        ("ack", "²"),
        ("snooze", "²:4h"),
    ],
    ids=str,
)
def test_out_of_range_ids_are_refused(app: AppContext, event: tuple[str, str]) -> None:
    kind, text = event
    common = {"platform": "console", "user_id": USERS["hr"], "event_id": "pinned"}
    if kind == "message":
        _check(handle(app, Message(conversation_id="D", is_direct=True, text=text, **common)))
    else:
        _check(handle(app, Action(conversation_id="G", action_id=kind, value=text, **common)))


@pytest.mark.parametrize("text", ["kpi 0001-01", "kpi 9999-12", "绩效 0001-03"])
def test_periods_at_the_edge_of_the_calendar_are_refused(app: AppContext, text: str) -> None:
    message = Message(
        platform="console",
        user_id=USERS["hr"],
        conversation_id="D",
        is_direct=True,
        text=text,
        event_id="pinned",
    )
    _check(handle(app, message))


@pytest.mark.parametrize("role", sorted(USERS))
@FUZZ
@given(
    action_id=st.one_of(st.sampled_from(["ack", "snooze"]), st.text(max_size=10)),
    value=st.one_of(
        st.text(max_size=40),
        st.builds("{}:{}".format, st.integers(-5, 50), st.one_of(AWKWARD, st.text(max_size=8))),
    ),
)
def test_any_button_value_gets_a_reply(
    app: AppContext, role: str, action_id: str, value: str
) -> None:
    """Forged button clicks: any action id, any value (another alert's id, garbage)."""
    action = Action(
        platform="console",
        user_id=USERS[role],
        conversation_id="G-hr",
        action_id=action_id,
        value=value,
        event_id="fuzz-click",
    )
    _check(handle(app, action))


def test_the_fuzzed_words_reach_their_commands(app: AppContext) -> None:
    """The control: every command word is live, so the fuzzing above exercises the commands."""
    unknown = {translate(locale, "error.unknown") for locale in (ZH_CN, "en")}
    for word in WORDS:
        message = Message(
            platform="console",
            user_id=USERS["hr"],
            conversation_id="D",
            is_direct=True,
            text=word,
            event_id="control",
        )
        assert handle(app, message).text not in unknown, word
