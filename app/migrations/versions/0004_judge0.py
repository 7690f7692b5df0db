"""Judge0-compatible submissions; executions may run several times (timing averaged)

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("runs", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "judge0_submissions",
        sa.Column("execution_id", sa.String(length=32), sa.ForeignKey("executions.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("language_id", sa.Integer(), nullable=False),
        sa.Column("expected_output", sa.Text()),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("callback_url", sa.String(length=2048)),
    )


def downgrade():
    op.drop_table("judge0_submissions")
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("runs")
