"""recovery: which task holds an execution or a batch submission, and since when (to tell an
abandoned attempt); batches by status

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _claimed_by() -> sa.Column:
    return sa.Column("claimed_by", sa.String(length=64), nullable=True)  # the Celery task id


def upgrade():
    op.create_index("ix_batches_status", "batches", ["status"])
    with op.batch_alter_table("executions") as batch:
        batch.add_column(_claimed_by())
    with op.batch_alter_table("batch_submissions") as batch:
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(_claimed_by())


def downgrade():
    op.drop_index("ix_batches_status", table_name="batches")
    with op.batch_alter_table("batch_submissions") as batch:
        batch.drop_column("claimed_by")
        batch.drop_column("claimed_at")
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("claimed_by")
