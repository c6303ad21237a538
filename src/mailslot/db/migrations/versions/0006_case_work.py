"""case work: statuses, labels, assignment, access history, deadlines, audit trail,
automatic acknowledgements, retention settings

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 20:13:36.298026
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_action", ["action"], unique=False)
        batch_op.create_index("ix_audit_events_actor_id", ["actor_id"], unique=False)
        batch_op.create_index("ix_audit_events_case_id", ["case_id"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "labels",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
        sa.UniqueConstraint("name", name=op.f("uq_labels_name")),
    )
    op.create_table(
        "auto_replies",
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_auto_replies_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("channel_id", "locale", name=op.f("pk_auto_replies")),
    )
    op.create_table(
        "custom_statuses",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_custom_statuses_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_statuses")),
        sa.UniqueConstraint("channel_id", "name", name=op.f("uq_custom_statuses_channel_id")),
    )
    op.create_table(
        "case_access",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("granted_by", sa.String(length=32), nullable=True),
        sa.Column("granted_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_by", sa.String(length=32), nullable=True),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_access_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["granted_by"],
            ["users.id"],
            name=op.f("fk_case_access_granted_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"],
            ["users.id"],
            name=op.f("fk_case_access_revoked_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_case_access_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_access")),
    )
    with op.batch_alter_table("case_access", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_access_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_assignees",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_assignees_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_case_assignees_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "user_id", name=op.f("pk_case_assignees")),
    )
    with op.batch_alter_table("case_assignees", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_assignees_user_id"), ["user_id"], unique=False)

    op.create_table(
        "case_labels",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("label_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_labels_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["label_id"],
            ["labels.id"],
            name=op.f("fk_case_labels_label_id_labels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "label_id", name=op.f("pk_case_labels")),
    )
    with op.batch_alter_table("case_labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_labels_label_id"), ["label_id"], unique=False)

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="new", nullable=False)
        )
        batch_op.add_column(sa.Column("custom_status_id", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("important", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("acknowledge_by", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("feedback_by", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("feedback_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("due_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("reminded_for", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("keep_until", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            "ix_cases_created_at", ["created_at", "id", "activity_seq"], unique=False
        )
        batch_op.create_index("ix_cases_due_at", ["due_at", "id", "activity_seq"], unique=False)
        batch_op.create_index(
            "ix_cases_status_activity", ["status", "activity_seq", "id", "due_at"], unique=False
        )
        batch_op.create_index(
            "ix_cases_activity_seq",
            ["activity_seq", "id", "created_at", "last_activity_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_cases_last_activity_at", ["last_activity_at", "id", "activity_seq"], unique=False
        )
        batch_op.create_index(
            "ix_cases_custom_status", ["custom_status_id", "activity_seq", "id"], unique=False
        )
        batch_op.create_index(
            "ix_cases_important", ["important", "activity_seq", "id"], unique=False
        )
        batch_op.create_index(
            "ix_cases_stats",
            [
                "created_at",
                "channel_id",
                "status",
                "acknowledge_by",
                "acknowledged_at",
                "feedback_by",
                "feedback_at",
                "closed_at",
                "due_at",
            ],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_custom_status_id_custom_statuses"),
            "custom_statuses",
            ["custom_status_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("acknowledge_days", sa.Integer(), server_default="7", nullable=False)
        )
        batch_op.add_column(
            sa.Column("feedback_days", sa.Integer(), server_default="90", nullable=False)
        )
        batch_op.add_column(
            sa.Column("retention_days", sa.Integer(), server_default="90", nullable=False)
        )
        batch_op.add_column(
            sa.Column("closed_retention_days", sa.Integer(), server_default="30", nullable=False)
        )

    # Cases from before: the acknowledgement deadline runs from their creation, and whoever
    # holds a key to one has held it since then.
    op.execute(
        "UPDATE cases SET acknowledge_by = created_at + 7 * 86400, due_at = created_at + 7 * 86400"
    )
    bind = op.get_bind()
    holders = bind.execute(
        sa.text(
            "SELECT w.case_id, w.user_id, c.created_at "
            "FROM case_key_wraps w JOIN cases c ON c.id = w.case_id"
        )
    ).all()
    if holders:
        bind.execute(
            sa.text(
                "INSERT INTO case_access (id, case_id, user_id, granted_at) "
                "VALUES (:id, :case_id, :user_id, :granted_at)"
            ),
            [
                {"id": secrets.token_hex(16), "case_id": c, "user_id": u, "granted_at": t}
                for c, u, t in holders
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("closed_retention_days")
        batch_op.drop_column("retention_days")
        batch_op.drop_column("feedback_days")
        batch_op.drop_column("acknowledge_days")

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_cases_custom_status_id_custom_statuses"), type_="foreignkey"
        )
        batch_op.drop_index("ix_cases_stats")
        batch_op.drop_index("ix_cases_important")
        batch_op.drop_index("ix_cases_custom_status")
        batch_op.drop_index("ix_cases_last_activity_at")
        batch_op.drop_index("ix_cases_activity_seq")
        batch_op.drop_index("ix_cases_status_activity")
        batch_op.drop_index("ix_cases_due_at")
        batch_op.drop_index("ix_cases_created_at")
        batch_op.drop_column("keep_until")
        batch_op.drop_column("reminded_for")
        batch_op.drop_column("due_at")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("feedback_at")
        batch_op.drop_column("feedback_by")
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("acknowledge_by")
        batch_op.drop_column("important")
        batch_op.drop_column("custom_status_id")
        batch_op.drop_column("status")

    with op.batch_alter_table("case_labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_labels_label_id"))

    op.drop_table("case_labels")
    with op.batch_alter_table("case_assignees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_assignees_user_id"))

    op.drop_table("case_assignees")
    with op.batch_alter_table("case_access", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_access_case_id"))

    op.drop_table("case_access")
    op.drop_table("custom_statuses")
    op.drop_table("auto_replies")
    op.drop_table("labels")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_case_id")
        batch_op.drop_index("ix_audit_events_actor_id")
        batch_op.drop_index("ix_audit_events_action")

    op.drop_table("audit_events")
