"""questionnaires: files kept in drafts, and counts of answers

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 10:30:00

Issue 14: the blobs of files that a source attached to a questionnaire's draft
(``questionnaire_draft_files``: the blob id only, the rest is in the sealed draft; a row
loses its session when the session ends, and the background jobs delete its blob), and
counts per answer of the fields marked for statistics (``questionnaire_answer_counts``: per
channel, questionnaire version, field, option and month, never per case).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "questionnaire_draft_files",
        sa.Column("blob_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_questionnaire_draft_files_session_id_sessions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("blob_id", name=op.f("pk_questionnaire_draft_files")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("questionnaire_draft_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_questionnaire_draft_files_session_id"), ["session_id"], unique=False
        )
    op.create_table(
        "questionnaire_answer_counts",
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("questionnaire_id", sa.String(length=32), nullable=False),
        sa.Column("field_id", sa.String(length=40), nullable=False),
        sa.Column("option_id", sa.String(length=40), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_questionnaire_answer_counts_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["questionnaire_id"],
            ["questionnaires.id"],
            name=op.f("fk_questionnaire_answer_counts_questionnaire_id_questionnaires"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "channel_id",
            "questionnaire_id",
            "field_id",
            "option_id",
            "month",
            name=op.f("pk_questionnaire_answer_counts"),
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    # Going below 0013 forgets the counts; files kept in drafts stay as blobs until the
    # sessions end (their drafts still name them) but are no longer swept.
    op.drop_table("questionnaire_answer_counts")
    with op.batch_alter_table("questionnaire_draft_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_questionnaire_draft_files_session_id"))
    op.drop_table("questionnaire_draft_files")
