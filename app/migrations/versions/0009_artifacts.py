"""artifacts: the files a run wrote under /work/out/ (bytes in the artifact store, by sha256),
each of an execution or of a batch case; why some were not kept, on executions and batch cases

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "artifacts",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("execution_id", sa.String(length=32), sa.ForeignKey("executions.id", ondelete="CASCADE"),
                  nullable=True),
        sa.Column("batch_case_id", sa.Integer(), sa.ForeignKey("batch_cases.id", ondelete="CASCADE"),
                  nullable=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mime", sa.String(length=127), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("execution_id", "name", name="uq_artifacts_execution_name"),
        sa.UniqueConstraint("batch_case_id", "name", name="uq_artifacts_batch_case_name"),
        sa.CheckConstraint("(execution_id IS NULL) <> (batch_case_id IS NULL)", name="ck_artifacts_one_owner"),
    )
    op.create_index("ix_artifacts_user_id", "artifacts", ["user_id"])
    op.create_index("ix_artifacts_sha256", "artifacts", ["sha256"])
    op.create_index("ix_artifacts_expires_at", "artifacts", ["expires_at"])
    for name in ("executions", "batch_cases"):
        with op.batch_alter_table(name) as table:
            # why files under /work/out/ were not all kept (a cap, the storage quota); NULL when all were
            table.add_column(sa.Column("artifacts_note", sa.Text(), nullable=True))


def downgrade():
    for name in ("batch_cases", "executions"):
        with op.batch_alter_table(name) as table:
            table.drop_column("artifacts_note")
    op.drop_table("artifacts")
