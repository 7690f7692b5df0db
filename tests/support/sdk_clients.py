"""Both SDK clients behind one awaitable face, so a test body written once drives Client and
AsyncClient alike: `async with sdk(kind, url, key) as api:` then `await api.execute_code(...)`."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest
from codestudio_client import AsyncClient, Client

KINDS = pytest.mark.parametrize("kind", ["sync", "async"])


class Awaiting:
    """A Client whose methods are awaited like AsyncClient's (each call blocks, as Client does)."""

    def __init__(self, client: Client):
        self.client = client

    def __getattr__(self, name: str) -> Callable[..., Coroutine[Any, Any, Any]]:
        method = getattr(self.client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call

    async def list_executions(self, **kwargs: Any) -> AsyncIterator[Any]:
        for execution in self.client.list_executions(**kwargs):
            yield execution


@asynccontextmanager
async def sdk(kind: str, url: str, key: str | None, **options: Any) -> AsyncIterator[Any]:
    if kind == "sync":
        with Client(url, key, **options) as client:
            yield Awaiting(client)
    else:
        async with AsyncClient(url, key, **options) as client:
            yield client


def run(scenario: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(scenario, 180))
