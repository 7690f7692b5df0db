"""idempotency_keys: a caller's Idempotency-Key and the execution or batch it created

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("execution_id", sa.String(length=32), sa.ForeignKey("executions.id", ondelete="CASCADE"),
                  nullable=True),
        sa.Column("batch_id", sa.String(length=32), sa.ForeignKey("batches.id", ondelete="CASCADE"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])
    op.create_index("ix_idempotency_keys_execution_id", "idempotency_keys", ["execution_id"])
    op.create_index("ix_idempotency_keys_batch_id", "idempotency_keys", ["batch_id"])


def downgrade():
    op.drop_table("idempotency_keys")
