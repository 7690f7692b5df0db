"""The API's calls, written once as effect generators (see _core): runs, projects and their files,
languages and artifacts. Client and AsyncClient expose each of these as a method of the same name."""
from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ._core import Core, Op, Sleep
from .errors import NotFound, WaitTimeout
from .models import Execution, Language, Page, Project, ProjectFile

FIRST_POLL, MAX_POLL = 0.25, 2.0  # seconds between polls of a queued or running execution


# files: name -> content, or a list of {"name", "content"}
Files = Mapping[str, str] | Sequence[Mapping[str, str]]


def file_items(files: Files | None) -> list[tuple[str, str]]:
    if isinstance(files, Mapping):
        return [(str(name), str(content)) for name, content in files.items()]
    return [(str(f["name"]), str(f["content"])) for f in files or ()]


def file_list(files: Files | None) -> list[dict[str, str]]:
    return [{"name": name, "content": content} for name, content in file_items(files)]


def run_body(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A /run body without the fields left unset (the server's defaults apply)."""
    return {k: v for k, v in fields.items() if v is not None}


class Calls(Core):
    # runs

    def execute_code(self, language: str, code: str, *, stdin: str | None = None,
                     files: Files | None = None, args: Sequence[str] | None = None,
                     limits: Mapping[str, Any] | None = None, project_id: str | None = None, wait: bool = True,
                     idempotency_key: str | None = None) -> Op[Execution]:
        """Run `code` (the entry file) in `language`, with more `files` (name -> content) beside it.
        With wait (the default) the answer is the final execution, polled for if the server answers
        before the run ends; without, the execution as queued."""
        body = run_body({"language": language, "code": code, "stdin": stdin, "files": file_list(files) or None,
                         "args": list(args) if args else None, "limits": dict(limits) if limits else None,
                         "project_id": project_id})
        return (yield from self._run(body, wait, idempotency_key))

    def run_project(self, project_id: str, *, entry: str | None = None, stdin: str | None = None,
                    args: Sequence[str] | None = None, limits: Mapping[str, Any] | None = None, wait: bool = True,
                    idempotency_key: str | None = None) -> Op[Execution]:
        """Run a project: its `entry` file (default: the project's entry) with all its files in place."""
        body = run_body({"project_id": project_id, "filename": entry, "stdin": stdin,
                         "args": list(args) if args else None, "limits": dict(limits) if limits else None})
        return (yield from self._run(body, wait, idempotency_key))

    def _run(self, body: dict[str, Any], wait: bool, idempotency_key: str | None) -> Op[Execution]:
        key = idempotency_key or str(uuid.uuid4())  # one key for every retry of this call
        data = yield from self.send_json("POST", "/run", {**body, "wait": wait}, idempotency_key=key)
        execution = Execution.from_json(data)
        if wait and not execution.final:
            execution = yield from self.wait_execution(execution.id)
        return execution

    def get_execution(self, execution_id: str) -> Op[Execution]:
        return Execution.from_json((yield from self.get_json(f"/executions/{quote(execution_id, safe='')}")))

    def wait_execution(self, execution_id: str, timeout: float | None = None) -> Op[Execution]:
        """Poll until the execution is final; WaitTimeout after `timeout` seconds (None: no limit)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = FIRST_POLL
        while True:
            execution = yield from self.get_execution(execution_id)
            if execution.final:
                return execution
            if deadline is not None and time.monotonic() + delay > deadline:
                raise WaitTimeout(f"execution {execution_id} is still {execution.status} after {timeout} s")
            yield Sleep(delay)
            delay = min(MAX_POLL, delay * 2)

    def execution_page(self, cursor: str | None = None, *, status: str | None = None, language: str | None = None,
                       page_size: int = 20) -> Op[Page]:
        data = yield from self.get_json("/executions", {"cursor": cursor, "status": status, "language": language,
                                                        "limit": page_size})
        return Page(data["items"], data.get("next_cursor"))

    def download_artifact(self, execution_id: str, name: str) -> Op[bytes]:
        """A file the execution produced, as bytes."""
        path = f"/executions/{quote(execution_id, safe='')}/artifacts/{quote(name, safe='/')}"
        response = yield from self.request("GET", path)
        return response.content

    def check_key(self) -> Op[None]:
        """Raises Unauthorized unless the key is valid (one cheap authenticated request)."""
        yield from self.request("GET", "/executions", params={"limit": 1})

    def languages(self) -> Op[list[Language]]:
        """Every language the server defines; `available` when a worker serves it now."""
        return [Language.from_json(item) for item in (yield from self.get_json("/languages"))]

    # projects

    def create_project(self, name: str, language: str | None = None, *, files: Files | None = None,
                       entry: str | None = None, description: str | None = None) -> Op[Project]:
        """A new project (names are unique per key), with `files` (name -> content) written into it."""
        body = run_body({"name": name, "language": language, "entry": entry, "description": description})
        project = Project.from_json((yield from self.send_json("POST", "/project/create", body)))
        for path, content in file_items(files):
            yield from self.write_file(project.id, path, content)
        if files:
            project = yield from self.get_project(project.id)
        return project

    def get_project(self, project_id: str) -> Op[Project]:
        return Project.from_json((yield from self.get_json(f"/project/{quote(project_id, safe='')}")))

    def list_projects(self) -> Op[list[Project]]:
        data = yield from self.get_json("/project/list")
        return [Project.from_json(item) for item in data["items"]]

    def delete_project(self, project_id: str) -> Op[None]:
        yield from self.request("DELETE", f"/project/{quote(project_id, safe='')}")

    def write_file(self, project_id: str, path: str, content: str) -> Op[ProjectFile]:
        """Create the file, or replace its content if it exists."""
        body = {"project_id": project_id, "filename": path, "content": content}
        try:
            data = yield from self.send_json("POST", "/file/update", body)
        except NotFound as missing:
            if missing.code != "file_not_found":
                raise
            data = yield from self.send_json("POST", "/file/create", body)
        return ProjectFile.from_json(data)

    def read_file(self, project_id: str, path: str) -> Op[str]:
        data = yield from self.get_json("/file/read", {"project_id": project_id, "filename": path})
        return str(data["content"])

    def list_files(self, project_id: str) -> Op[list[ProjectFile]]:
        """The project's files by name (sizes, no content), every page gathered."""
        files: list[ProjectFile] = []
        cursor = None
        while True:
            data = yield from self.get_json("/file/list", {"project_id": project_id, "cursor": cursor, "limit": 1000})
            files += [ProjectFile.from_json(item) for item in data["items"]]
            cursor = data.get("next_cursor")
            if not cursor:
                return files

    def delete_file(self, project_id: str, path: str) -> Op[None]:
        yield from self.send_json("POST", "/file/delete", {"project_id": project_id, "filename": path})
