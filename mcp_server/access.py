"""How a tool call reaches the API: with which key, at which address.

On stdio the key is the process's (CODESTUDIO_API_KEY: one user runs the process). Over HTTP it is
the key of the request that carries the call, so each caller is exactly the API user they are; no
key outlives its request beyond the gate's short "this key is valid" memory (http.py)."""
from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from codestudio_client import AsyncClient, RetryPolicy

from .settings import McpSettings

BEARER = re.compile(r"^\s*bearer\s+([A-Za-z0-9_.~+/=-]{1,256})\s*$", re.IGNORECASE)
# a Host header that can be the authority of a URL (a name or an address, an optional port)
AUTHORITY = re.compile(r"^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")
# a waited run takes up to the API's wait cap (60 s by default) and then some
API_TIMEOUT = httpx.Timeout(150.0, connect=10.0)
# an agent is better told "rate limited, retry after N s" soon than kept waiting for minutes
TOOL_RETRIES = RetryPolicy(max_attempts=3, max_delay=5.0, budget=20.0)


class NoKey(Exception):
    """The call carries no API key; the message says how to give one."""


class HasHeaders(Protocol):
    @property
    def headers(self) -> Mapping[str, str] | None: ...


@dataclass(frozen=True)
class Caller:
    """Who calls the API and how to reach it for them."""
    key: str
    api_url: str              # the SDK's base URL (over a socket only its host counts: the API writes it in URLs)
    public_url: str           # where the caller opens the URLs the API answers (artifacts)
    headers: Mapping[str, str] = field(default_factory=dict)  # added to every request


class Access(Protocol):
    def caller(self, ctx: HasHeaders) -> Caller: ...

    def client(self, caller: Caller, retry: RetryPolicy = TOOL_RETRIES) -> AsyncClient: ...


def bearer_key(authorization: str | None) -> str | None:
    match = BEARER.match(authorization or "")
    return match.group(1) if match else None


class SharedTransport(httpx.AsyncBaseTransport):
    """One caller's view of the process's connection pool: adds its headers; closing it leaves the
    pool open for the other callers."""

    def __init__(self, pool: httpx.AsyncBaseTransport, headers: Mapping[str, str]):
        self.pool, self.headers = pool, headers

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.headers.update(self.headers)
        return await self.pool.handle_async_request(request)

    async def aclose(self) -> None:
        pass


class Connections:
    """The process's connections to the API (a unix socket or the URL's host), shared by all callers."""

    def __init__(self, socket: str | None):
        self.pool = httpx.AsyncHTTPTransport(uds=socket) if socket else httpx.AsyncHTTPTransport()

    def client(self, caller: Caller, retry: RetryPolicy = TOOL_RETRIES) -> AsyncClient:
        http = httpx.AsyncClient(transport=SharedTransport(self.pool, caller.headers), timeout=API_TIMEOUT)
        return AsyncClient(caller.api_url, caller.key, retry=retry, http_client=http)


@asynccontextmanager
async def opened(client: AsyncClient) -> AsyncIterator[AsyncClient]:
    try:
        yield client
    finally:
        await client.http.aclose()  # the caller's view only: the pool stays open


class ProcessKey(Connections):
    """stdio: one key, the process's, for every call."""

    def __init__(self, settings: McpSettings, key: str | None):
        super().__init__(None)
        self.settings, self.key = settings, key

    def caller(self, ctx: HasHeaders) -> Caller:
        if not self.key:
            raise NoKey("no API key: set CODESTUDIO_API_KEY in the MCP server's environment")
        return Caller(self.key, self.settings.api_url, self.settings.api_url)


class RequestKey(Connections):
    """HTTP: the key of the request carrying the call (the gate has already checked it)."""

    def __init__(self, settings: McpSettings):
        super().__init__(settings.api_socket)
        self.settings = settings

    def caller(self, ctx: HasHeaders) -> Caller:
        headers = ctx.headers or {}
        key = bearer_key(headers.get("authorization"))
        if key is None:
            raise NoKey("no API key: send Authorization: Bearer <key>")
        return self.for_request(key, headers)

    def for_request(self, key: str, headers: Mapping[str, str]) -> Caller:
        if not self.settings.api_socket:
            return Caller(key, self.settings.api_url, self.settings.api_url)
        # straight to gunicorn: the caller's address (as the front saw it) for the API's per-address
        # limits, and the host and scheme the caller used, for the URLs the API answers
        host = headers.get("host", "")
        host = host if AUTHORITY.match(host) else "localhost"
        scheme = "https" if headers.get("x-forwarded-proto") == "https" else "http"
        forwarded = {"X-Forwarded-Proto": scheme}
        if "x-forwarded-for" in headers:
            forwarded["X-Forwarded-For"] = headers["x-forwarded-for"]
        return Caller(key, f"http://{host}", f"{scheme}://{host}", forwarded)
