"""no insertion order at rest; case key versions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 09:00:00

Two changes from issue 18:

- **Order.** On SQLite, a table whose primary key is not an integer still has a hidden
  ``rowid`` that counts up with every insert, so it kept the global order in which sources,
  cases, items and sessions were written (and gaps showed deletions). Every such table is
  rebuilt ``WITHOUT ROWID``: its rows are then kept in the order of their random ids. The
  tables with an integer key (``instance``, ``audit_head``: one row each; ``audit_events``,
  whose ``seq`` is its order by design) keep theirs. PostgreSQL has no rowid and no table
  here uses a sequence; its heap order is documented in docs/threat-model.md.
- **Key versions.** Revoking someone's access now rotates the case key (``cases.work``):
  ``cases.key_version`` is the current version, ``items.key_version`` the version an item's
  data key is wrapped to, and ``case_past_key_wraps`` holds the seeds of earlier versions,
  wrapped to each current holder. Everything from before is version 0.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Every table at 0007 whose primary key is not an integer.
TABLES: Final = (
    "auto_replies",
    "case_access",
    "case_assignees",
    "case_key_wraps",
    "case_labels",
    "case_reads",
    "cases",
    "channel_members",
    "channels",
    "counters",
    "custom_statuses",
    "enrollments",
    "item_key_wraps",
    "items",
    "labels",
    "login_throttles",
    "pending_notices",
    "rate_buckets",
    "sessions",
    "sources",
    "users",
    "webauthn_credentials",
)
VERSIONED: Final = ("cases", "items")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    sqlite = _sqlite()
    for table in TABLES:
        if table in VERSIONED:
            with op.batch_alter_table(
                table, recreate="always" if sqlite else "auto", table_kwargs=_rowid(False)
            ) as batch_op:
                batch_op.add_column(
                    sa.Column("key_version", sa.Integer(), server_default="0", nullable=False)
                )
        elif sqlite:
            with op.batch_alter_table(table, recreate="always", table_kwargs=_rowid(False)):
                pass
    op.create_table(
        "case_past_key_wraps",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_past_key_wraps_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_case_past_key_wraps_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "case_id", "user_id", "version", name=op.f("pk_case_past_key_wraps")
        ),
        **_rowid(False),
    )
    with op.batch_alter_table("case_past_key_wraps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_past_key_wraps_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    # Items sealed under a later key version stay readable only through the past-key wraps
    # this drops: going back below 0008 after a revocation loses them for every reader.
    with op.batch_alter_table("case_past_key_wraps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_past_key_wraps_user_id"))
    op.drop_table("case_past_key_wraps")
    sqlite = _sqlite()
    for table in TABLES:
        if table in VERSIONED:
            with op.batch_alter_table(
                table, recreate="always" if sqlite else "auto", table_kwargs=_rowid(True)
            ) as batch_op:
                batch_op.drop_column("key_version")
        elif sqlite:
            with op.batch_alter_table(table, recreate="always", table_kwargs=_rowid(True)):
                pass


def _rowid(with_rowid: bool) -> dict[str, bool]:
    # Only SQLite reads this option; other dialects ignore ``sqlite_*`` keywords.
    return {"sqlite_with_rowid": with_rowid}
