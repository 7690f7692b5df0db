"""Batches through the API: submit, wait for progress or the end, read the verdicts."""
from __future__ import annotations

import time

from tests.support.polling import get_json, wait_until

SUM_TESTS = [
    {"name": "small", "stdin": "1 2\n", "expected_output": "3\n"},
    {"name": "negative", "stdin": "-5 2\n", "expected_output": "-3\n", "points": 2},
    {"name": "large", "stdin": "1000000000 1000000000\n", "expected_output": "2000000000\n", "points": 3},
]


def post_batch(client, user, expect=202, **payload):
    response = client.post("/codestudio/batch", json=payload, headers=user["headers"])
    assert response.status_code == expect, response.get_data(as_text=True)
    return response


def batch_state(client, user, batch_id, deadline) -> dict:
    """The batch without its per-case results (what a progress poll needs)."""
    return get_json(client, f"/codestudio/batch/{batch_id}?results=false", user["headers"], deadline)


def wait_batch(client, user, batch_id, seconds=180, every=0.2):
    """The whole batch, with its results, once it is final."""
    deadline = time.monotonic() + seconds
    wait_until(lambda: batch_state(client, user, batch_id, deadline)["status"] not in ("queued", "running"),
               seconds, interval=every, what=f"batch {batch_id} final")
    return get_json(client, f"/codestudio/batch/{batch_id}", user["headers"], deadline)


def wait_progress(client, user, batch_id, at_least, seconds=60):
    """Until at least `at_least` cases of the batch are final."""
    deadline = time.monotonic() + seconds
    wait_until(lambda: batch_state(client, user, batch_id, deadline)["progress"]["done"] >= at_least,
               seconds, what=f"{at_least} cases of batch {batch_id} final")


def grade(client, user, **payload):
    response = post_batch(client, user, **payload)
    assert response.headers["Location"].endswith(f"/codestudio/batch/{response.get_json()['id']}")
    return wait_batch(client, user, response.get_json()["id"])


def verdicts(body):
    return {s["id"]: [r["verdict"] for r in s["results"]] for s in body["submissions"]}
