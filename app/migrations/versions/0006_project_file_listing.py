"""project files: a covering index for listings and sums (filename, size, timestamps), so they
never read the rows themselves: SQLite keeps a file's content in the row, before the columns a
listing needs, and would read every content to reach them

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_project_files_listing", "project_files",
                    ["project_id", "filename", "size", "created_at", "updated_at"])


def downgrade():
    op.drop_index("ix_project_files_listing", table_name="project_files")
