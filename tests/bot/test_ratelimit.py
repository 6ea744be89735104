"""The dispatcher's sending windows: never more than a platform's count in any window."""

from __future__ import annotations

from adapters.base import RateLimit
from bot.ratelimit import Limiter, SlidingWindow

WECOM = (
    RateLimit(scope="recipient", count=30, seconds=60),
    RateLimit(scope="app", count=40, seconds=60),
)


def test_the_31st_message_in_a_minute_waits_until_the_first_leaves_the_window() -> None:
    limiter = Limiter()
    for second in range(30):
        assert limiter.wait_for("wecom", "lisi", WECOM, 1000.0 + second) == 0.0
    assert limiter.wait_for("wecom", "lisi", WECOM, 1030.0) == 30.0
    assert limiter.wait_for("wecom", "lisi", WECOM, 1059.5) == 0.5
    assert limiter.wait_for("wecom", "lisi", WECOM, 1060.0) == 0.0


def test_members_have_their_own_windows_and_share_the_apps() -> None:
    limiter = Limiter()
    for _ in range(30):
        assert limiter.wait_for("wecom", "lisi", WECOM, 1000.0) == 0.0
    for _ in range(10):
        assert limiter.wait_for("wecom", "zhangsan", WECOM, 1000.0) == 0.0
    assert limiter.wait_for("wecom", "wangwu", WECOM, 1000.0) == 60.0, "the app's 40 are used"


def test_a_refused_send_takes_no_place_in_the_window() -> None:
    limiter = Limiter()
    for _ in range(30):
        limiter.wait_for("wecom", "lisi", WECOM, 1000.0)
    for _ in range(5):
        assert limiter.wait_for("wecom", "lisi", WECOM, 1001.0) > 0
    assert limiter.wait_for("wecom", "zhangsan", WECOM, 1001.0) == 0.0


def test_a_send_counts_from_when_the_platform_answered() -> None:
    limiter = Limiter()
    limits = (RateLimit(scope="recipient", count=1, seconds=60),)
    assert limiter.wait_for("wecom", "lisi", limits, 1000.0) == 0.0
    limiter.settle("wecom", "lisi", limits, decided=1000.0, answered=1008.0)
    assert limiter.wait_for("wecom", "lisi", limits, 1060.0) == 8.0


def test_a_pause_holds_every_recipient_of_the_platform() -> None:
    limiter = Limiter()
    limiter.pause("wecom", 1060.0)
    assert limiter.wait_for("wecom", "lisi", WECOM, 1000.0) == 60.0
    assert limiter.wait_for("slack", "C1", (), 1000.0) == 0.0
    assert limiter.wait_for("wecom", "lisi", WECOM, 1060.0) == 0.0


def test_old_sends_leave_the_window() -> None:
    window = SlidingWindow(count=2, seconds=10)
    window.add(0.0)
    window.add(5.0)
    assert window.wait(9.0) == 1.0
    assert window.wait(10.0) == 0.0
    assert window.sent_at == [5.0]
