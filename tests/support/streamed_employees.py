"""A 12,000-row employees file whose problems sit across the importer's 5,000-row chunks.

`rows(faults=True)` plants one of each kind of problem, several after rows that would already
be written (duplicates of earlier chunks' ids, data under no header far down, a manager only
a later chunk defines); `rows(faults=False)` is the same company, all good. `EXISTING` is
imported first, so some managers and updates refer to stored employees.
"""

from __future__ import annotations

HEADER = ["employee_id", "name", "account", "hire_date", "salary", "manager_id", "role"]
HEADER += ["enrolled_on", "", "email", "slack_user_id"]
COUNT = 12_000
ACCOUNTS = ("beijing", "shanghai", "hk")
EXISTING = [
    HEADER,
    ["X1", "老板", "beijing", "2020-01-01", "50000", "", "manager", "2020-01-01", "", "", "UX1"],
    ["E00003", "旧名字", "beijing", "2020-01-01", "9000", "", "", "", "", "", "U00003"],
]


def _good(index: int) -> list[str]:
    # Managers: the block's first person, or (for every 97th) one defined 6,000 rows later, or
    # the stored X1.
    manager = f"E{index // 25 * 25:05d}" if index % 25 else "X1"
    if index % 97 == 5 and index + 6000 < COUNT:
        manager = f"E{index + 6000:05d}"
    return [
        f"E{index:05d}",
        f"员工{index}",
        ACCOUNTS[index % 3],
        "2024-01-02",
        str(5000 + index % 40000),
        manager,
        "",
        "2024-01-10" if index % 7 else "",
        "",
        f"e{index}@example.com" if index % 11 == 0 else "",
        f"U{index:05d}" if index % 5 else "",
    ]


FAULTS = {
    7: (4, "abc"),  # salary: not a number
    5003: (0, "E00010"),  # duplicate of a row in the first chunk
    6000: (5, "NOPE"),  # unknown manager
    6001: (5, "E06001"),  # their own manager
    7000: (7, "2023-12-31"),  # enrolled before hired
    8000: (0, ""),  # no employee id
    9000: (8, "note"),  # data under no header
    10000: (1, ""),  # no name
    10500: (2, "mars"),  # unknown account
    11000: (6, "boss"),  # unknown role
    11500: (9, "not-an-email"),
    11700: (10, "U00001"),  # a Slack id the first chunk gives E00001
    11800: (10, "UX1"),  # the stored X1's Slack id
}


def rows(*, faults: bool) -> list[list[str]]:
    """The header, then the data rows (one blank line at row 4,001)."""
    lines = [HEADER]
    for index in range(COUNT):
        if index == 4000:
            lines.append([""] * len(HEADER))
        row = _good(index)
        if faults and index in FAULTS:
            position, value = FAULTS[index]
            row[position] = value
        if faults and index == 9500:
            row.append("beyond the header")
        lines.append(row)
    return lines
