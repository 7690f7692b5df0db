"""Projects and files (the seed's paths and verbs)."""
from __future__ import annotations

from flask import g

from ..schemas.projects import (
    DeletedSchema,
    FileListArgsSchema,
    FileListSchema,
    FileRefSchema,
    FileWriteSchema,
    ProjectCreateSchema,
    ProjectDetailSchema,
    ProjectFileSchema,
    ProjectListSchema,
    ProjectSchema,
)
from ..services import project_files, projects
from . import Blueprint, authenticate_and_check_body

bp = Blueprint("projects", __name__, url_prefix="/codestudio", description="Projects and their files")
ERRORS = ((401, "UNAUTHORIZED"), (404, "NOT_FOUND"))


bp.before_request(authenticate_and_check_body)


def documented_errors(view):
    for status, name in ERRORS:
        view = bp.alt_response(status, response=name)(view)
    return view


@bp.route("/project/create", methods=["POST"])
@bp.arguments(ProjectCreateSchema)
@bp.response(201, ProjectSchema)
@bp.alt_response(409, response="CONFLICT")
@documented_errors
def create_project(data):
    """Create a project (names are unique per user)."""
    return projects.summary(projects.create(g.user, data), 0, 0)


@bp.route("/project/list")
@bp.response(200, ProjectListSchema)
@documented_errors
def list_projects():
    """Your projects, newest first."""
    return {"items": projects.list_owned(g.user)}


@bp.route("/project/<project_id>", methods=["GET"])
@bp.response(200, ProjectDetailSchema)
@documented_errors
def get_project(project_id):
    """Project metadata and its file list."""
    return projects.detail(projects.get_owned(g.user, project_id))


@bp.route("/project/<project_id>", methods=["DELETE"])
@bp.response(200, DeletedSchema)
@documented_errors
def delete_project(project_id):
    """Delete a project and its files."""
    projects.delete(g.user, project_id)
    return {"deleted": project_id}


def file_endpoint(rule: str, args_schema, status: int = 200, location: str = "json", method: str = "POST",
                  conflict: bool = False):
    """The shared decorator stack of the endpoints that answer with one file."""
    def wrap(view):
        view = documented_errors(view)
        if conflict:
            view = bp.alt_response(409, response="CONFLICT")(view)
        view = bp.response(status, ProjectFileSchema)(view)
        view = bp.arguments(args_schema, location=location)(view)
        return bp.route(rule, methods=[method])(view)

    return wrap


@file_endpoint("/file/create", FileWriteSchema, status=201, conflict=True)
def create_file(data):
    """Add a file to a project (409 if the name exists)."""
    return project_files.create(g.user, data)


@file_endpoint("/file/read", FileRefSchema, location="query", method="GET")
def read_file(args):
    """A file's content."""
    return project_files.read(g.user, args["project_id"], args["filename"])


@file_endpoint("/file/update", FileWriteSchema)
def update_file(data):
    """Replace a file's content (404 if it does not exist)."""
    return project_files.update(g.user, data)


@bp.route("/file/list")
@bp.arguments(FileListArgsSchema, location="query")
@bp.response(200, FileListSchema)
@documented_errors
def list_files(args):
    """A project's files (metadata, no content), by name, a page at a time."""
    project = projects.get_owned(g.user, args["project_id"])
    items, next_cursor = projects.file_page(project.id, args["limit"], args["cursor"])
    return {"project_id": project.id, "items": items, "next_cursor": next_cursor}


@bp.route("/file/delete", methods=["POST"])
@bp.arguments(FileRefSchema)
@bp.response(200, DeletedSchema)
@documented_errors
def delete_file(data):
    """Remove a file from a project."""
    project_files.delete(g.user, data["project_id"], data["filename"])
    return {"deleted": data["filename"]}
