"""pending mail notices

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_notices",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("due_at", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_until", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_pending_notices_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_pending_notices")),
    )
    op.create_index(op.f("ix_pending_notices_due_at"), "pending_notices", ["due_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_pending_notices_due_at"), table_name="pending_notices")
    op.drop_table("pending_notices")
