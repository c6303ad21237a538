"""texts written by admins, per language

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 10:30:00

Issue 15: the organisation's default language (``instance.default_locale``, English for an
install from before, so its texts stay those of the default language), and the texts admins
write in the other languages (``localized_texts``: the organisation's name and guidance,
channel names and descriptions), one row per owner, field and language.
Also where the organisation's quick exit leads (``instance.quick_exit_url``; empty for an
install from before: the install's choice, as until now), and the language of each staff
member's mail notices (``users.locale``; empty: the organisation's default language).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instance", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("default_locale", sa.String(length=16), server_default="en", nullable=False)
        )
        batch_op.add_column(
            sa.Column("quick_exit_url", sa.String(length=500), server_default="", nullable=False)
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("locale", sa.String(length=16), server_default="", nullable=False)
        )
    op.create_table(
        "localized_texts",
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("owner", "field", "locale", name=op.f("pk_localized_texts")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    # Going below 0012 forgets every text in a language other than the default; the
    # default language's texts were never anywhere else.
    op.drop_table("localized_texts")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("locale")
    with op.batch_alter_table("instance", schema=None) as batch_op:
        batch_op.drop_column("quick_exit_url")
        batch_op.drop_column("default_locale")
