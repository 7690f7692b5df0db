"""Waiting for something to happen: the tests' one polling loop, and the API read a well-behaved
client makes (a 429 means wait as told, then ask again) built on it."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class NotInTime(AssertionError):
    """What was awaited did not happen within the timeout."""


def wait_until(condition: Callable[[], T], timeout: float, interval: float | Callable[[], float] = 0.05,
               what: str | Callable[[], str] | None = None) -> T:
    """Call `condition` until it returns something truthy, and return that; fail the test if
    `timeout` seconds pass first. `interval` is the pause between calls (or a function giving
    the next pause); `what` names what was awaited in the failure (or gives it, called then,
    e.g. a log's tail). Fails with NotInTime; assertions inside `condition` fail the test at once."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            described = what() if callable(what) else what or getattr(condition, "__name__", "the condition")
            raise NotInTime(f"not within {timeout:g} s: {described} (last: {value!r})")
        pause = interval() if callable(interval) else interval
        time.sleep(max(0.0, min(pause, deadline - time.monotonic())))


def get_json(client, url: str, headers: dict, deadline: float) -> dict:
    """GET url and return its JSON body; on 429 wait for Retry-After (never past the deadline)
    and ask again."""
    retry_after = 0.0

    def answered() -> tuple[dict] | None:
        nonlocal retry_after
        response = client.get(url, headers=headers)
        if response.status_code == 429:
            retry_after = float(response.headers.get("Retry-After", "1"))
            assert time.monotonic() + retry_after < deadline, "rate limited past the deadline"
            return None
        assert response.status_code == 200, response.get_data(as_text=True)
        return (response.get_json(),)

    return wait_until(answered, max(0.0, deadline - time.monotonic()), interval=lambda: retry_after,
                      what=f"an answer other than 429 from {url}")[0]
