"""executions: what the compile stage used (CPU and wall seconds, peak memory); NULL where nothing compiled

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("executions") as table:
        table.add_column(sa.Column("compile_cpu_time", sa.Float(), nullable=True))
        table.add_column(sa.Column("compile_wall_time", sa.Float(), nullable=True))
        table.add_column(sa.Column("compile_memory_kb", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("executions") as table:
        for name in ("compile_memory_kb", "compile_wall_time", "compile_cpu_time"):
            table.drop_column(name)
