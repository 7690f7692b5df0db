"""Canned HTTP answers for clients tested without a server (requests.Session.request patched)."""
from __future__ import annotations

import json

import requests


def response(status: int, body: dict, headers: dict | None = None) -> requests.Response:
    """A requests.Response with `body` as JSON (problem+json from 400 up)."""
    made = requests.Response()
    made.status_code, made._content = status, json.dumps(body).encode()
    made.headers.update({"Content-Type": "application/problem+json" if status >= 400 else "application/json",
                         **(headers or {})})
    return made
