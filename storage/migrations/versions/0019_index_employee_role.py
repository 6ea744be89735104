"""Index employee.role (issue 19): routing asks for the HR and finance staff once per alert a
scan notifies, and without the index each ask read the whole roster, so a scan's cost grew with
alerts × employees.

Revision ID: 0019
Revises: 0014b
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0014b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_employee_role", "employee", ["role"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_employee_role", table_name="employee")
