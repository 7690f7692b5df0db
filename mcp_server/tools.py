"""The tools: each is one or two calls of the Code Studio API, made with the caller's own key.

Every API error answer becomes a tool error carrying the problem's code and detail, so the model
can correct its call; nothing here decides what a caller may do: the API does."""
from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated

from codestudio_client import ApiError, AsyncClient, CodeStudioError, Execution
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from .access import Access, Caller, NoKey, opened
from .results import data_result, error_result, execution_result, failure_result
from .settings import McpSettings


class SourceFile(BaseModel):
    name: str = Field(description="path relative to the work directory, e.g. 'util.py' or 'data/input.csv'")
    content: str = Field(description="the file's text")


Language = Annotated[str, Field(description="language id or alias, e.g. 'python', 'java', 'cpp' (see list_languages)")]
Code = Annotated[str, Field(description="the whole program: the entry file's source")]
Stdin = Annotated[str, Field(description="text given to the program on standard input")]
Files = Annotated[list[SourceFile] | None, Field(description="more files placed beside the program")]
Args = Annotated[list[str] | None, Field(description="command-line arguments passed to the program")]
Timeout = Annotated[float | None, Field(gt=0, description="wall-clock seconds the run may take (the account's tier "
                                              "caps it); omit for the default")]
ProjectId = Annotated[str, Field(description="the project's id, as create_project answered it")]
Path = Annotated[str, Field(description="the file's path inside the project, e.g. 'main.py' or 'src/util.py'")]

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
RUNS = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
CREATES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)

Action = Callable[[AsyncClient, Caller], Awaitable[CallToolResult]]


def limits(timeout: float | None) -> dict[str, float] | None:
    return None if timeout is None else {"timeout": timeout}


class Tools:
    """The tool functions; their signatures and docstrings are the schemas and descriptions clients see."""

    def __init__(self, access: Access, settings: McpSettings):
        self.access, self.settings = access, settings

    async def calling(self, ctx: Context, action: Action) -> CallToolResult:
        """Run an action with the caller's client; what the API refuses is the tool's error."""
        try:
            caller = self.access.caller(ctx)
            async with opened(self.access.client(caller)) as api:
                return await action(api, caller)
        except NoKey as exc:
            return failure_result(str(exc))
        except ApiError as exc:
            return error_result(exc)
        except CodeStudioError as exc:  # the API could not be reached
            return failure_result(f"Code Studio API unavailable: {exc}")

    async def execution(self, api: AsyncClient, caller: Caller, execution: Execution) -> CallToolResult:
        async def fetch(name: str) -> bytes:
            return await api.download_artifact(execution.id, name)

        return await execution_result(execution, fetch, caller.public_url, output_chars=self.settings.output_chars,
                                      image_bytes=self.settings.image_bytes)

    async def run_code(self, language: Language, code: Code, ctx: Context, stdin: Stdin = "",
                       files: Files = None, args: Args = None, timeout: Timeout = None) -> CallToolResult:
        """Run a program in a sandbox (no network) and wait for it to finish. Answers the status
        (success, error, compile_error, timeout, memory_limit, output_limit), the exit code, stdout,
        stderr and the error the program raised; files the program writes to /work/out/ come back as
        artifacts (images inline). Each call is a fresh sandbox: nothing persists between calls."""
        async def act(api: AsyncClient, caller: Caller) -> CallToolResult:
            execution = await api.execute_code(
                language, code, stdin=stdin, files=[f.model_dump() for f in files or []], args=args or [],
                limits=limits(timeout))
            return await self.execution(api, caller, execution)

        return await self.calling(ctx, act)

    async def list_languages(self, ctx: Context) -> CallToolResult:
        """The languages Code Studio can run: id, name, version, aliases, and whether a worker serves
        each right now (only available ones can run)."""
        async def act(api: AsyncClient, caller: Caller) -> CallToolResult:
            languages = await api.languages()
            lines = [f"{lang.id}: {lang.name} {lang.version or ''}".rstrip()
                     + (f" (aliases: {', '.join(lang.aliases)})" if lang.aliases else "")
                     + ("" if lang.available else " — unavailable now") for lang in languages]
            return data_result("\n".join(lines), {"languages": [lang.raw for lang in languages]})

        return await self.calling(ctx, act)

    async def create_project(
            self, name: Annotated[str, Field(description="a name unique among your projects")], language: Language,
            ctx: Context,
            files: Annotated[list[SourceFile] | None, Field(description="the project's first files")] = None,
            entry: Annotated[str | None, Field(description="the file run_project runs by default, e.g. "
                                                           "'main.py'")] = None) -> CallToolResult:
        """Create a project: files kept between calls, run together with run_project. Answers the
        project with its id, which the other project tools take."""
        async def act(api: AsyncClient, caller: Caller) -> CallToolResult:
            project = await api.create_project(name, language, files=[f.model_dump() for f in files or []],
                                               entry=entry)
            files_text = ", ".join(f.name for f in project.files) or "no files yet"
            return data_result(f"created project {project.name}: id {project.id} ({files_text})", project.raw)

        return await self.calling(ctx, act)

    async def write_file(self, project_id: ProjectId, path: Path,
                         content: Annotated[str, Field(description="the file's whole new text")],
                         ctx: Context) -> CallToolResult:
        """Create or replace a file in a project."""
        async def act(api: AsyncClient, caller: Caller) -> CallToolResult:
            written = await api.write_file(project_id, path, content)
            return data_result(f"wrote {written.name} ({written.size} bytes) in project {project_id}", written.raw)

        return await self.calling(ctx, act)

    async def read_file(self, project_id: ProjectId, path: Path, ctx: Context) -> CallToolResult:
        """A project file's text."""
        async def act(api: AsyncClient, caller: Caller) -> CallToolResult:
            content = await api.read_file(project_id, path)
            return data_result(content, {"project_id": project_id, "path": path, "content": content})

        return await self.calling(ctx, act)

    async def list_files(self, project_id: ProjectId, ctx: Context) -> CallToolResult:
        """A project's files: path and size (no content; read_file reads one)."""
        async def act(api: AsyncClient, caller: Caller) -> CallToolResult:
            files = await api.list_files(project_id)
            lines = [f"{f.name} ({f.size} bytes)" for f in files]
            return data_result("\n".join(lines) or "(no files)",
                               {"project_id": project_id, "files": [f.raw for f in files]})

        return await self.calling(ctx, act)

    async def run_project(
            self, project_id: ProjectId, ctx: Context,
            entry: Annotated[str | None, Field(description="the file to run; omit for the project's entry")] = None,
            stdin: Stdin = "", args: Args = None, timeout: Timeout = None) -> CallToolResult:
        """Run a project's files in a sandbox and wait for the result (answered like run_code)."""
        async def act(api: AsyncClient, caller: Caller) -> CallToolResult:
            execution = await api.run_project(project_id, entry=entry, stdin=stdin, args=args or [],
                                              limits=limits(timeout))
            return await self.execution(api, caller, execution)

        return await self.calling(ctx, act)

    async def get_execution(
            self, execution_id: Annotated[str, Field(description="the execution id a run answered")],
            ctx: Context) -> CallToolResult:
        """An earlier execution, with its output and artifacts (status queued or running: not finished yet)."""
        async def act(api: AsyncClient, caller: Caller) -> CallToolResult:
            return await self.execution(api, caller, await api.get_execution(execution_id))

        return await self.calling(ctx, act)


INSTRUCTIONS = (
    "Code Studio runs programs in many languages in a sandbox without network access. Use run_code "
    "for a single program; use create_project, write_file and run_project for several files kept "
    "between calls. Files a program writes to /work/out/ come back as artifacts.")


def build_server(access: Access, settings: McpSettings) -> MCPServer:
    server: MCPServer = MCPServer("codestudio", title="Code Studio", instructions=INSTRUCTIONS,
                                  log_level="WARNING")
    tools = Tools(access, settings)
    for tool, hints in (
            (tools.run_code, RUNS), (tools.list_languages, READ_ONLY), (tools.create_project, CREATES),
            (tools.write_file, WRITES), (tools.read_file, READ_ONLY), (tools.list_files, READ_ONLY),
            (tools.run_project, RUNS), (tools.get_execution, READ_ONLY)):
        server.add_tool(tool, description=inspect.cleandoc(tool.__doc__ or ""), annotations=hints,
                        structured_output=False)
    return server
