"""forget sources whose last case was deleted

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 06:30:00

Before this revision, deleting a case on the staff side left its source's row (lookup tag
and public key) in place when the source had no other case, so the codename still logged
in. Deleting a case now forgets such a source (``cases.deletion.forget_case``); this
forgets the ones left behind earlier. A source row is only ever made together with its
first case, so a source without a case is always such a leftover.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        sa.text(
            "DELETE FROM sources WHERE NOT EXISTS "
            "(SELECT 1 FROM cases WHERE cases.source_id = sources.id)"
        )
    )


def downgrade() -> None:
    # Nothing to undo: the forgotten rows are gone on purpose (their codenames must stay
    # unusable), and the schema did not change.
    pass
