"""id numbers sealed at rest: employee.id_number widened for `fernet:<key id>:<token>` (issue 15)

Revision ID: 0015
Revises: 0013

Values are not touched: plain ones stay readable, and `coverwatch security rotate-key` seals
them under `[security] data_key` (storage.rekey). Going down refuses while any value is sealed,
as a sealed value does not fit the narrower column.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("employee", schema=None) as batch_op:
        batch_op.alter_column(
            "id_number",
            existing_type=sa.String(length=64),
            type_=sa.String(length=255),
            existing_nullable=True,
        )


def downgrade() -> None:
    sealed = op.get_bind().execute(
        sa.text("SELECT count(*) FROM employee WHERE id_number LIKE 'fernet:%'")
    )
    if sealed.scalar():
        raise RuntimeError("id numbers are sealed: they do not fit the column of revision 0013")
    with op.batch_alter_table("employee", schema=None) as batch_op:
        batch_op.alter_column(
            "id_number",
            existing_type=sa.String(length=255),
            type_=sa.String(length=64),
            existing_nullable=True,
        )
