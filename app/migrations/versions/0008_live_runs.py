"""executions: a live run's options (terminal mode and size); NULL for every other run

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("executions") as table:
        table.add_column(sa.Column("live", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("executions") as table:
        table.drop_column("live")
