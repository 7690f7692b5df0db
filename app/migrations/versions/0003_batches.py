"""batch grading: batches, their submissions and cases; usage records for batch runs and compiles

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _timestamps(*names, nullable=True):
    return [sa.Column(name, sa.DateTime(timezone=True), nullable=nullable) for name in names]


def _floats(*names):
    return [sa.Column(name, sa.Float()) for name in names]


def upgrade():
    op.create_table(
        "batches",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("language", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("compare", sa.String(length=16), nullable=False),
        sa.Column("abs_tol", sa.Float(), nullable=False),
        sa.Column("rel_tol", sa.Float(), nullable=False),
        sa.Column("tests", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        *_timestamps("created_at", nullable=False),
        *_timestamps("started_at", "finished_at"),
    )
    op.create_index("ix_batches_user_created", "batches", ["user_id", "created_at"])
    op.create_table(
        "batch_submissions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("batch_id", sa.String(length=32), sa.ForeignKey("batches.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("entry_name", sa.String(length=255)),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("compile_status", sa.String(length=20)),
        sa.Column("compile_output", sa.Text()),
        *_floats("compile_time"),
        sa.Column("compiles", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("worker", sa.String(length=255)),
        sa.UniqueConstraint("batch_id", "ref", name="uq_batch_submissions_ref"),
    )
    op.create_index("ix_batch_submissions_batch_id", "batch_submissions", ["batch_id"])
    op.create_table(
        "batch_cases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("batch_id", sa.String(length=32), sa.ForeignKey("batches.id", ondelete="CASCADE"), nullable=False),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("batch_submissions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("test_index", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("returncode", sa.Integer()),
        *_floats("cpu_time", "wall_time"),
        sa.Column("memory_kb", sa.Integer()),
        *[sa.Column(name, sa.Text()) for name in ("stdout", "stderr", "diff", "message")],
        *_timestamps("finished_at"),
        sa.UniqueConstraint("submission_id", "test_index", name="uq_batch_cases_test"),
    )
    op.create_index("ix_batch_cases_batch_id", "batch_cases", ["batch_id"])
    with op.batch_alter_table("usage_records") as batch:
        batch.alter_column("execution_id", existing_type=sa.String(length=32), nullable=True)
        batch.add_column(sa.Column("batch_case_id", sa.Integer()))
        batch.add_column(sa.Column("batch_submission_id", sa.Integer()))
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="run"))
        batch.create_unique_constraint("uq_usage_records_batch_case_id", ["batch_case_id"])
        batch.create_unique_constraint("uq_usage_records_batch_submission_id", ["batch_submission_id"])
        batch.create_foreign_key("fk_usage_records_batch_case_id", "batch_cases", ["batch_case_id"], ["id"],
                                 ondelete="CASCADE")
        batch.create_foreign_key("fk_usage_records_batch_submission_id", "batch_submissions",
                                 ["batch_submission_id"], ["id"], ondelete="CASCADE")


def downgrade():
    op.execute("DELETE FROM usage_records WHERE execution_id IS NULL")
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_constraint("fk_usage_records_batch_submission_id", type_="foreignkey")
        batch.drop_constraint("fk_usage_records_batch_case_id", type_="foreignkey")
        batch.drop_constraint("uq_usage_records_batch_submission_id", type_="unique")
        batch.drop_constraint("uq_usage_records_batch_case_id", type_="unique")
        batch.drop_column("kind")
        batch.drop_column("batch_submission_id")
        batch.drop_column("batch_case_id")
        batch.alter_column("execution_id", existing_type=sa.String(length=32), nullable=False)
    op.drop_index("ix_batch_cases_batch_id", "batch_cases")
    op.drop_table("batch_cases")
    op.drop_index("ix_batch_submissions_batch_id", "batch_submissions")
    op.drop_table("batch_submissions")
    op.drop_index("ix_batches_user_created", "batches")
    op.drop_table("batches")
