"""projects and their files; executions remember a project entry file name

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "projects",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=32)),
        sa.Column("description", sa.Text()),
        sa.Column("entry", sa.String(length=255)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True)),
        sa.Column("last_run_status", sa.String(length=20)),
        sa.Column("last_run_id", sa.String(length=32)),
        sa.UniqueConstraint("user_id", "name", name="uq_projects_user_name"),
    )
    op.create_index("ix_projects_user_id", "projects", ["user_id"])
    op.create_table(
        "project_files",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.String(length=32), sa.ForeignKey("projects.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("project_id", "filename", name="uq_project_files_name"),
    )
    op.create_index("ix_project_files_project_id", "project_files", ["project_id"])
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("entry_name", sa.String(length=255)))


def downgrade():
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("entry_name")
    op.drop_index("ix_project_files_project_id", "project_files")
    op.drop_table("project_files")
    op.drop_index("ix_projects_user_id", "projects")
    op.drop_table("projects")
