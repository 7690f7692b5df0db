"""Canned HTTP answers for clients tested without a server (httpx.Client.send patched)."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx


def response(status: int, body: dict, headers: dict | None = None) -> httpx.Response:
    """An httpx.Response with `body` as JSON (problem+json from 400 up)."""
    return httpx.Response(status, content=json.dumps(body).encode(), headers={
        "Content-Type": "application/problem+json" if status >= 400 else "application/json", **(headers or {})})


def serve(monkeypatch, fake: Callable[..., httpx.Response]) -> None:
    """Every request of an httpx.Client answered by fake(method, url, json=, params=, headers=): the
    URL without its query, the JSON body (None without one), the query as a dict."""
    def send(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        answer = fake(request.method, str(request.url.copy_with(query=None)), json=body,
                      params=dict(request.url.params), headers=request.headers)
        answer.request = request
        return answer

    monkeypatch.setattr(httpx.Client, "send", send)
