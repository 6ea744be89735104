from datetime import date

import pytest

from core.enrollment import (
    EnrollmentState,
    EnrollmentStatus,
    enrollment_deadline,
    enrollment_status,
)

HIRED = date(2026, 3, 1)
DEADLINE = date(2026, 3, 31)


def test_deadline_is_thirty_days_after_the_hire_day() -> None:
    assert enrollment_deadline(HIRED) == DEADLINE
    assert enrollment_deadline(date(2026, 12, 15)) == date(2027, 1, 14)
    assert enrollment_deadline(date(2028, 2, 1)) == date(2028, 3, 2)  # leap year


@pytest.mark.parametrize(
    ("enrolled_on", "on", "days_left", "state"),
    [
        (None, date(2026, 3, 1), 30, EnrollmentState.PENDING),
        (None, date(2026, 3, 23), 8, EnrollmentState.PENDING),
        (None, date(2026, 3, 24), 7, EnrollmentState.DUE_SOON),
        (None, date(2026, 3, 31), 0, EnrollmentState.DUE_SOON),
        (None, date(2026, 4, 1), -1, EnrollmentState.OVERDUE),
        (date(2026, 3, 31), date(2026, 4, 10), -10, EnrollmentState.ENROLLED_ON_TIME),
        (date(2026, 3, 5), date(2026, 3, 5), 26, EnrollmentState.ENROLLED_ON_TIME),
        (date(2026, 4, 1), date(2026, 4, 1), -1, EnrollmentState.ENROLLED_LATE),
        # Recorded for a future day: not enrolled yet as of `on`.
        (date(2026, 4, 3), date(2026, 4, 2), -2, EnrollmentState.OVERDUE),
        (date(2026, 3, 30), date(2026, 3, 25), 6, EnrollmentState.DUE_SOON),
    ],
)
def test_status(enrolled_on: date | None, on: date, days_left: int, state: EnrollmentState) -> None:
    assert enrollment_status(HIRED, enrolled_on, on) == EnrollmentStatus(
        deadline=DEADLINE, days_left=days_left, state=state
    )
