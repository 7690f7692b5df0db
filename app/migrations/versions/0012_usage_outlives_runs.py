"""usage_records: a billing line outlives the execution, batch case or batch submission it bills
(ON DELETE SET NULL instead of CASCADE), so retention can prune runs and keep what was billed;
executions indexed by creation time, the order retention reads them in

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# SQLite recreates the table in batch mode: the reflected execution_id key has no name there, and
# this convention gives it one that drop_constraint can use (PostgreSQL named it itself)
NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s"}
SOURCES = (("execution_id", "executions"), ("batch_case_id", "batch_cases"),
           ("batch_submission_id", "batch_submissions"))


def _current_names() -> dict[str, str]:
    """The source keys' names as migrations 0001 and 0003 left them, on this database."""
    postgres = op.get_bind().dialect.name == "postgresql"
    return {"execution_id": "usage_records_execution_id_fkey" if postgres else "fk_usage_records_execution_id",
            "batch_case_id": "fk_usage_records_batch_case_id",
            "batch_submission_id": "fk_usage_records_batch_submission_id"}


def _replace(old_names: dict[str, str], new_names: dict[str, str], ondelete: str) -> None:
    with op.batch_alter_table("usage_records", naming_convention=NAMING) as table:
        for column, _ in SOURCES:
            table.drop_constraint(old_names[column], type_="foreignkey")
        for column, referred in SOURCES:
            table.create_foreign_key(new_names[column], referred, [column], ["id"], ondelete=ondelete)


def upgrade():
    _replace(_current_names(), {column: f"fk_usage_records_{column}" for column, _ in SOURCES}, "SET NULL")
    # retention reads executions oldest first, a chunk at a time: without it, each chunk scans the table
    op.create_index("ix_executions_created_at", "executions", ["created_at"])


def downgrade():
    op.drop_index("ix_executions_created_at", "executions")
    _replace({column: f"fk_usage_records_{column}" for column, _ in SOURCES}, _current_names(), "CASCADE")
