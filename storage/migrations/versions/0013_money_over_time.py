"""money over time: salary history, ledger adjustments, payment kind

Revision ID: 0013
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0013"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "salary_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("effective_from", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("salary", storage.types.Money(), nullable=False),
        sa.ForeignKeyConstraint(["employee_id"], ["employee.employee_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("employee_id", "effective_from"),
    )
    op.create_table(
        "ledger_adjustment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("amount", storage.types.Money(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("computed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ledger_adjustment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_adjustment_period"), ["period"], unique=False)
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="dues",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("ledger_adjustment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_adjustment_period"))
    op.drop_table("ledger_adjustment")
    op.drop_table("salary_history")
