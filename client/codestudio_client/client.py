"""`Client`: the API with blocking calls. Each method (see _methods.py) is the call of the same name in
calls.py or batches.py, its effects performed here: requests sent with httpx, sleeps slept."""
from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import ParamSpec, TypeVar

import httpx

from ._core import DEFAULT_URL, Effect, Op, Outcome, Sleep
from ._methods import Call, Methods
from .live import BlockingLiveRun, LiveRun
from .models import Execution

__all__ = ["DEFAULT_URL", "Client"]

P = ParamSpec("P")
T = TypeVar("T")


class Client(Methods[httpx.Client, httpx.BaseTransport, BlockingLiveRun]):
    """A Code Studio API client with blocking calls. `Client(url=None, key=None, *, timeout, retry,
    headers, transport, http_client)`: see Methods for each."""

    def new_http(self, timeout: float | httpx.Timeout, transport: httpx.BaseTransport | None) -> httpx.Client:
        return httpx.Client(timeout=timeout, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self.owns_http:
            self.http.close()

    def offer_live(self, run: LiveRun) -> BlockingLiveRun:
        return BlockingLiveRun(run)

    def bind(self, call: Call[P, T]) -> Callable[P, T]:
        @functools.wraps(call)
        def method(*args: P.args, **kwargs: P.kwargs) -> T:
            return self.perform(call(self.calls, *args, **kwargs))

        return method

    def perform(self, op: Op[T]) -> T:
        """Run a call to its end: each effect it yields performed, its outcome sent back."""
        outcome: Outcome = None
        while True:
            try:
                effect = op.send(outcome)
            except StopIteration as done:
                result: T = done.value
                return result
            outcome = self._effect(effect)

    def _effect(self, effect: Effect) -> Outcome:
        if isinstance(effect, Sleep):
            time.sleep(effect.seconds)
            return None
        try:
            return self.http.send(effect.request)
        except httpx.TransportError as exc:  # the call decides: retry or raise TransportError
            return exc

    def list_executions(self, *, status: str | None = None, language: str | None = None,
                        page_size: int = 20) -> Iterator[Execution]:
        """Your executions, newest first, fetched a page at a time as the iteration goes."""
        cursor = None
        while True:
            page = self.perform(self.calls.execution_page(cursor, status=status, language=language,
                                                          page_size=page_size))
            yield from (Execution.from_json(item) for item in page.items)
            if not page.next_cursor:
                return
            cursor = page.next_cursor

