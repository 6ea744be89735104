"""The inbound queue (issue 18): events written before the ack, claimed by handler workers;
its unique (platform, event_id) is the dedupe record processed_event was (dropped).

Revision ID: 0018
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0018"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("user_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("payload", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("lease_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("handled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "event_id"),
    )
    with op.batch_alter_table("inbound", schema=None) as batch_op:
        batch_op.create_index("ix_inbound_open", ["state", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_inbound_received_at"), ["received_at"], unique=False)
        batch_op.create_index("ix_inbound_user", ["user_key", "state"], unique=False)

    with op.batch_alter_table("processed_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_event_received_at"))

    op.drop_table("processed_event")


def downgrade() -> None:
    op.create_table(
        "processed_event",
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "event_id"),
    )
    with op.batch_alter_table("processed_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_processed_event_received_at"), ["received_at"], unique=False
        )

    with op.batch_alter_table("inbound", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_user")
        batch_op.drop_index(batch_op.f("ix_inbound_received_at"))
        batch_op.drop_index("ix_inbound_open")

    op.drop_table("inbound")
