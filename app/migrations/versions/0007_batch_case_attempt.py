"""batch cases: the attempt that started each one, so only that attempt records it (a superseded
attempt still running after a takeover can neither record nor end the new attempt's cases)

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("batch_cases") as table:
        table.add_column(sa.Column("attempt", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("batch_cases") as table:
        table.drop_column("attempt")
