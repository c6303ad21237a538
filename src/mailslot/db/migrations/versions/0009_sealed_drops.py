"""sealed drops: drop keys, their wraps, the signing key, key manifests

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 08:00:00

Issue 17: each channel's drop keys (``drop_keys``, public age recipients) with their
identities wrapped to the channel's recipients (``drop_key_wraps``), the organisation's
signing key (``signing_key``) and the published chain of key manifests
(``key_manifests``). Nothing is generated here: the first key of each channel and the first
manifest are made the first time the keys are published (``dropkeys.services.sync``), with
the same code as every later change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drop_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("retired_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_drop_keys_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drop_keys")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("drop_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drop_keys_channel_id"), ["channel_id"], unique=False)
    op.create_table(
        "drop_key_wraps",
        sa.Column("drop_key_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["drop_key_id"],
            ["drop_keys.id"],
            name=op.f("fk_drop_key_wraps_drop_key_id_drop_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_drop_key_wraps_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("drop_key_id", "user_id", name=op.f("pk_drop_key_wraps")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("drop_key_wraps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drop_key_wraps_user_id"), ["user_id"], unique=False)
    op.create_table(
        "signing_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_key")),
    )
    op.create_table(
        "key_manifests",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("previous", sa.String(length=64), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_key_manifests")),
        sa.UniqueConstraint("digest", name=op.f("uq_key_manifests_digest")),
    )


def downgrade() -> None:
    # Going below 0009 destroys every drop key's wraps: drops already received stay stored
    # but no longer open for anyone.
    op.drop_table("key_manifests")
    op.drop_table("signing_key")
    with op.batch_alter_table("drop_key_wraps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drop_key_wraps_user_id"))
    op.drop_table("drop_key_wraps")
    with op.batch_alter_table("drop_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drop_keys_channel_id"))
    op.drop_table("drop_keys")
