"""alert groups, inhibition and silences (issue 14 items 2 and 3)

Revision ID: 0014b
Revises: 0018

Existing debt alerts get their group (`account:period`, core.alert_groups.group_of) here; the
next scan works out which of them are inhibited.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0014b"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "silence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_via", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("removed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("removed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("silence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_silence_ends_at"), ["ends_at"], unique=False)

    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("group_key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True)
        )
        batch_op.add_column(sa.Column("inhibited_by", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_alert_group_key"), ["group_key"], unique=False)
    # The kinds of core.alert_groups.GROUP_RANK, as they were when this revision was written.
    op.execute(
        "UPDATE alert SET group_key = account_id || ':' || period "
        "WHERE kind IN ('due_soon', 'overdue', 'suspension_imminent', 'installment_due') "
        "AND account_id IS NOT NULL AND period IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_group_key"))
        batch_op.drop_column("inhibited_by")
        batch_op.drop_column("group_key")

    with op.batch_alter_table("silence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_silence_ends_at"))

    op.drop_table("silence")
