"""identity on request and recipients chosen by sources

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 10:30:00

Issue 14. Identity on request: a source's identity sealed apart (``identities``), its key
wrapped to custodians and allowed recipients (``identity_key_wraps``), and recipients'
requests with sealed reasons (``identity_requests``). Recipients chosen by sources: a
channel's switch (``channels.sources_choose``), the name sources see
(``users.display_name``), and a case's mark (``cases.recipients_chosen``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("display_name", sa.String(length=64), nullable=True))
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sources_choose", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recipients_chosen", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "identities",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("blob_id", sa.String(length=64), nullable=False),
        sa.Column("stored_size", sa.BigInteger(), nullable=False),
        sa.Column("sealed_meta", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_identities_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint("blob_id", name=op.f("uq_identities_blob_id")),
        sa.UniqueConstraint("case_id", name=op.f("uq_identities_case_id")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "identity_key_wraps",
        sa.Column("identity_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_identity_key_wraps_identity_id_identities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_identity_key_wraps_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("identity_id", "user_id", name=op.f("pk_identity_key_wraps")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("identity_key_wraps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_key_wraps_user_id"), ["user_id"], unique=False
        )
    op.create_table(
        "identity_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("identity_id", sa.String(length=32), nullable=False),
        sa.Column("requester_id", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.LargeBinary(), nullable=False),
        sa.Column("reason_key_wrap", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_identity_requests_identity_id_identities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["users.id"],
            name=op.f("fk_identity_requests_requester_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["users.id"],
            name=op.f("fk_identity_requests_decided_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_requests")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("identity_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_requests_identity_id"), ["identity_id"], unique=False
        )


def downgrade() -> None:
    # Going below 0011 destroys every sealed identity's keys (the blobs stay, unreadable)
    # and forgets which recipients sources chose (their cases keep the wraps they have).
    with op.batch_alter_table("identity_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_requests_identity_id"))
    op.drop_table("identity_requests")
    with op.batch_alter_table("identity_key_wraps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_key_wraps_user_id"))
    op.drop_table("identity_key_wraps")
    op.drop_table("identities")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("recipients_chosen")
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("sources_choose")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("display_name")
