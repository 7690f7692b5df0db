"""Polling the API the way a well-behaved client does: a 429 means wait as told, then ask again."""
from __future__ import annotations

import time


def get_json(client, url: str, headers: dict, deadline: float) -> dict:
    """GET url; on 429 sleep for Retry-After (never past the deadline) and try again."""
    while True:
        response = client.get(url, headers=headers)
        if response.status_code != 429:
            assert response.status_code == 200, response.get_data(as_text=True)
            return response.get_json()
        pause = float(response.headers.get("Retry-After", "1"))
        assert time.monotonic() + pause < deadline, "rate limited past the deadline"
        time.sleep(pause)
