"""What a tool call answers: an execution, a record or an API error as MCP content.

An execution becomes a text an LLM can read (status, exit code, bounded stdout and stderr, the
program's error), the execution as the API answered it as structured content, and its artifacts:
images inline (fetched, size-capped), every other file as a link to its artifact URL."""
from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urljoin

from codestudio_client import ApiError, Artifact, Execution
from mcp_types import CallToolResult, ContentBlock, ImageContent, ResourceLink, TextContent

INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

FetchArtifact = Callable[[str], Awaitable[bytes]]


def bounded(text: str, limit: int) -> str:
    """The text, or its head and tail around a note of how much was left out."""
    if len(text) <= limit:
        return text
    head, tail = text[: limit * 3 // 4], text[len(text) - limit // 4:]
    return f"{head}\n… [{len(text) - len(head) - len(tail)} characters left out] …\n{tail}"


def size_text(size: int | None) -> str:
    if size is None:
        return "size unknown"
    if size < 1024:
        return f"{size} B"
    return f"{size / 1024:.1f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


def summary(execution: Execution, output_chars: int) -> str:
    exit_code = "" if execution.exit_code is None else f", exit code {execution.exit_code}"
    signal = f", signal {execution.signal}" if execution.signal else ""
    lines = [f"status: {execution.status}{exit_code}{signal} (execution {execution.id})"]
    if execution.message:
        lines.append(f"message: {execution.message}")
    if execution.compile_output:
        lines.append(f"compile output:\n{bounded(execution.compile_output, output_chars)}")
    for name in ("stdout", "stderr"):
        text: str = getattr(execution, name)
        cut = " (cut at the output limit)" if getattr(execution.truncated, name) else ""
        lines.append(f"{name}{cut}:\n{bounded(text, output_chars)}" if text else f"{name}: (empty)")
    if execution.error is not None:
        lines.append(f"error: {execution.error.name}: {execution.error.message}")
        if execution.error.traceback:
            lines.append(bounded(execution.error.traceback, output_chars))
    if execution.artifacts:
        lines.append("artifacts: " + ", ".join(
            f"{a.name} ({a.mime or 'unknown type'}, {size_text(a.size)})" for a in execution.artifacts))
    return "\n".join(lines)


def inline_image(artifact: Artifact, image_bytes: int) -> bool:
    return artifact.mime in INLINE_IMAGE_TYPES and artifact.size is not None and artifact.size <= image_bytes


async def artifact_blocks(execution: Execution, fetch: FetchArtifact, public_url: str,
                          image_bytes: int) -> list[ContentBlock]:
    """Small images inline; every other artifact (and a large image) a link to its URL."""
    blocks: list[ContentBlock] = []
    for artifact in execution.artifacts:
        if inline_image(artifact, image_bytes):
            data = await fetch(artifact.name)
            if len(data) <= image_bytes:  # the size listed is not trusted to be the size served
                blocks.append(ImageContent(type="image", data=base64.b64encode(data).decode("ascii"),
                                           mime_type=str(artifact.mime)))
                continue
        path = artifact.url or f"/codestudio/executions/{execution.id}/artifacts/{artifact.name}"
        blocks.append(ResourceLink(type="resource_link", name=artifact.name, uri=urljoin(public_url + "/", path),
                                   mime_type=artifact.mime, size=artifact.size))
    return blocks


async def execution_result(execution: Execution, fetch: FetchArtifact, public_url: str, *, output_chars: int,
                           image_bytes: int) -> CallToolResult:
    blocks: list[ContentBlock] = [TextContent(type="text", text=summary(execution, output_chars))]
    blocks += await artifact_blocks(execution, fetch, public_url, image_bytes)
    return CallToolResult(content=blocks, structured_content=dict(execution.raw), is_error=False)


def data_result(text: str, data: dict[str, Any]) -> CallToolResult:
    """A listing or a record: a readable text and the same data as structured content."""
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


def error_result(error: ApiError) -> CallToolResult:
    """An API error answer as a tool error: the model reads the code and what to change."""
    text = f"Code Studio API error {error.status} {error.code}: {error.detail or error.title or ''}".rstrip()
    if error.errors:
        text += "\n" + json.dumps(error.errors)
    if error.retry_after is not None and error.status in (429, 503):
        text += f"\nretry after {error.retry_after:g} s"
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=error.problem,
                          is_error=True)


def failure_result(message: str) -> CallToolResult:
    """A tool error that is no API answer (the API cannot be reached, no key was given)."""
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)
