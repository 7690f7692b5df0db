"""`AsyncClient`: the API with awaitable calls, the same calls as Client (calls.py, batches.py) with
their effects awaited, plus live runs over the WebSocket (live.py)."""
from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import ParamSpec, TypeVar

import httpx

from ._core import Effect, Op, Outcome, Sleep
from ._methods import Call, Methods
from .live import LiveRun
from .models import Execution

__all__ = ["AsyncClient"]

P = ParamSpec("P")
T = TypeVar("T")


class AsyncClient(Methods[httpx.AsyncClient, httpx.AsyncBaseTransport, LiveRun]):
    """The asynchronous Code Studio API client; the same arguments as Client, with `http_client` an
    httpx.AsyncClient."""

    def new_http(self, timeout: float | httpx.Timeout, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=timeout, transport=transport)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self.owns_http:
            await self.http.aclose()

    def offer_live(self, run: LiveRun) -> LiveRun:
        return run

    def bind(self, call: Call[P, T]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(call)
        async def method(*args: P.args, **kwargs: P.kwargs) -> T:
            return await self.perform(call(self.calls, *args, **kwargs))

        return method

    async def perform(self, op: Op[T]) -> T:
        """Run a call to its end, awaiting each effect it yields."""
        outcome: Outcome = None
        try:
            while True:
                outcome = await self._effect(op.send(outcome))
        except StopIteration as done:
            result: T = done.value
            return result

    async def _effect(self, effect: Effect) -> Outcome:
        if isinstance(effect, Sleep):
            await asyncio.sleep(effect.seconds)
            return None
        try:
            return await self.http.send(effect.request)
        except httpx.TransportError as exc:  # the call decides: retry or raise TransportError
            return exc

    async def list_executions(self, *, status: str | None = None, language: str | None = None,
                              page_size: int = 20) -> AsyncIterator[Execution]:
        """Your executions, newest first, fetched a page at a time as the iteration goes."""
        page = await self.perform(self.calls.execution_page(status=status, language=language, page_size=page_size))
        for item in page.items:
            yield Execution.from_json(item)
        while page.next_cursor:
            page = await self.perform(self.calls.execution_page(page.next_cursor, status=status, language=language,
                                                                page_size=page_size))
            for item in page.items:
                yield Execution.from_json(item)

