"""Streamable HTTP at /mcp: the SDK's ASGI app behind a key gate, served by uvicorn.

The gate answers a request without a valid API key with 401 problem+json before any MCP handling;
the API says whether a key is valid (a cheap authenticated call), and a key it accepted is trusted
by the gate for a few seconds. The API still checks the key on every call a tool makes, so a revoked
key stops working there at once.

Sessions are stateless: every request is whole in itself (its key included), so no state ties a
caller to one process and no call can run under a key other than its own request's."""
from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn
from codestudio_client import ApiError, CodeStudioError
from codestudio_client.retry import NO_RETRIES
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .access import RequestKey, bearer_key, opened
from .settings import McpSettings
from .tools import build_server

PROBLEM_TYPE = "urn:codestudio:problem:"
MAX_REMEMBERED_KEYS = 10_000


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    detail: str
    retry_after: float | None = None

    def response(self, path: str) -> Response:
        body = {"type": PROBLEM_TYPE + self.code, "title": self.code.replace("_", " ").capitalize(),
                "status": self.status, "code": self.code, "detail": self.detail, "instance": path}
        headers = {"WWW-Authenticate": 'Bearer realm="codestudio"'} if self.status == 401 else {}
        if self.retry_after is not None and self.status in (429, 503):
            headers["Retry-After"] = str(max(1, round(self.retry_after)))
        return Response(json.dumps(body), self.status, headers, media_type="application/problem+json")


NO_KEY = Refusal(401, "unauthorized", "an API key is required: Authorization: Bearer <key>")


class KeyGate:
    """ASGI middleware: only requests with a key the API accepts reach the MCP app."""

    def __init__(self, app: ASGIApp, access: RequestKey, trust_seconds: float,
                 clock: Callable[[], float] = time.monotonic):
        self.app, self.access, self.trust_seconds, self.clock = app, access, trust_seconds, clock
        self.trusted: OrderedDict[str, float] = OrderedDict()  # key digest -> until when

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: the SDK's session manager starts and stops with the server
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = bearer_key(headers.get("authorization"))
        refusal = NO_KEY if key is None else await self.check(key, headers)
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await refusal.response(scope["path"])(scope, receive, send)

    async def check(self, key: str, headers: Headers) -> Refusal | None:
        digest = hashlib.sha256(key.encode()).hexdigest()
        until = self.trusted.get(digest)
        if until is not None and until > self.clock():
            return None
        try:
            # not retried: a rate-limited or unavailable API is the client's to retry, told when
            async with opened(self.access.client(self.access.for_request(key, headers), NO_RETRIES)) as api:
                await api.check_key()
        except ApiError as exc:  # every refused key is `unauthorized` here, whichever 401 the API chose
            code = "unauthorized" if exc.status == 401 else exc.code
            return Refusal(exc.status, code, exc.detail, exc.retry_after)
        except CodeStudioError:
            return Refusal(503, "api_unavailable", "the API is not answering; try again shortly", 2)
        self.trusted[digest] = self.clock() + self.trust_seconds
        self.trusted.move_to_end(digest)
        while len(self.trusted) > MAX_REMEMBERED_KEYS:
            self.trusted.popitem(last=False)
        return None


def create_app(settings: McpSettings) -> ASGIApp:
    access = RequestKey(settings)
    server = build_server(access, settings)
    # no DNS-rebinding Host check: a page that rebinds a name to us still has no API key to send,
    # and behind the front the Host is whatever name the service is published under
    app = server.streamable_http_app(
        stateless_http=True, max_request_body_size=settings.max_body_bytes,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
    return KeyGate(app, access, settings.key_cache_seconds)


def serve(settings: McpSettings, *, socket: str | None = None, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve /mcp on a unix socket (behind the front) or host:port, until SIGTERM or Ctrl-C."""
    config = uvicorn.Config(create_app(settings), uds=socket, host=host, port=port, lifespan="on",
                            proxy_headers=False, log_level="warning", timeout_graceful_shutdown=30)
    uvicorn.Server(config).run()
