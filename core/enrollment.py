"""The registration deadline for a new hire (社会保险法 Art. 58) and where each hire stands.

Art. 58: the employer registers an employee for social insurance within 30 days of the
first day of work (自用工之日起三十日内); Art. 84 fines a failure 1–3× the dues, so HR wants
warning before the deadline, not after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

REGISTRATION_DAYS = 30
DUE_SOON_DAYS = 7
"""Seven days or fewer left: the hire is flagged `due_soon`."""


class EnrollmentState(StrEnum):
    ENROLLED_ON_TIME = "enrolled_on_time"
    ENROLLED_LATE = "enrolled_late"
    PENDING = "pending"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


@dataclass(frozen=True, kw_only=True)
class EnrollmentStatus:
    deadline: date
    days_left: int
    """`deadline - on` in days: 0 on the last allowed day, negative once it has passed."""
    state: EnrollmentState


def enrollment_deadline(hire_date: date) -> date:
    """Last day to register: `hire_date + 30 days`.

    Day 1 of the 30 is the day *after* the hire day: a period counted in days starts the
    next day (民法典 Art. 201, 开始的当日不计入). Hired 1 March -> register by 31 March.
    """
    return hire_date + timedelta(days=REGISTRATION_DAYS)


def enrollment_status(hire_date: date, enrolled_on: date | None, on: date) -> EnrollmentStatus:
    """Where a hire stands on day `on`.

    An enrolment dated after `on` has not happened yet as of `on`, so it is ignored.
    """
    deadline = enrollment_deadline(hire_date)
    days_left = (deadline - on).days
    if enrolled_on is not None and enrolled_on <= on:
        state = (
            EnrollmentState.ENROLLED_ON_TIME
            if enrolled_on <= deadline
            else EnrollmentState.ENROLLED_LATE
        )
    elif days_left < 0:
        state = EnrollmentState.OVERDUE
    elif days_left <= DUE_SOON_DAYS:
        state = EnrollmentState.DUE_SOON
    else:
        state = EnrollmentState.PENDING
    return EnrollmentStatus(deadline=deadline, days_left=days_left, state=state)
