"""questionnaires: versions per channel, and sources' sealed drafts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 08:30:00

Issue 14: a channel's questionnaire, one row per version (``questionnaires``; the current
one marked), and a source's answers in progress (``questionnaire_drafts``), sealed under
the session's key and deleted with the session.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "questionnaires",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=80), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_questionnaires_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaires")),
        sa.UniqueConstraint("channel_id", "version", name=op.f("uq_questionnaires_channel_id")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("questionnaires", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_questionnaires_channel_id"), ["channel_id"], unique=False
        )
    op.create_table(
        "questionnaire_drafts",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_questionnaire_drafts_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_questionnaire_drafts")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    # Going below 0010 forgets every questionnaire and every draft; answers already sent
    # stay sealed in their items, readable as their JSON only.
    op.drop_table("questionnaire_drafts")
    with op.batch_alter_table("questionnaires", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_questionnaires_channel_id"))
    op.drop_table("questionnaires")
