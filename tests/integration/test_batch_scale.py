"""The largest batch a tier allows is written (and cancelled) in short transactions: another user's
small write, made meanwhile by another process, never waits long behind it, on SQLite (one writer
at a time) as on PostgreSQL."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from app.schemas.batch import MAX_SUBMISSIONS, MAX_TESTS
from tests.support.batches import batch_state, post_batch
from tests.support.polling import wait_until

LONGEST_WAIT_SECONDS = 0.15


class SmallWrites:
    """tests/support/small_writes.py in a process of its own, for the duration of a `with` block."""

    def __init__(self, user_id: int):
        self.user_id, self.result = user_id, None

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).parents[1] / "support" / "small_writes.py"),
                                      str(self.user_id)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        return self

    def __exit__(self, *exc_info):
        out, _ = self.proc.communicate("", timeout=60)
        self.result = json.loads(out.strip().splitlines()[-1])


def _settled(client, user, batch_id) -> dict:
    """The progress once every case is final (the tests stopped by the cancel are recorded)."""
    deadline = time.monotonic() + 60

    def settled() -> dict | None:
        progress = batch_state(client, user, batch_id, deadline)["progress"]
        return progress if progress["done"] == progress["total"] else None

    return wait_until(settled, 60, interval=0.2, what=f"every case of batch {batch_id} final")


def test_the_largest_batch_never_holds_up_another_users_write(app, client, make_user, batch_worker):
    owner, other = make_user("enterprise"), make_user("pro")
    largest = min(app.config["TIERS"]["enterprise"]["batch_max_runs"], MAX_SUBMISSIONS * MAX_TESTS)
    submissions = largest // MAX_TESTS
    tests = [{"name": f"t{i}", "stdin": "1 2\n", "expected_output": "3\n"} for i in range(MAX_TESTS)]
    payload = {"language": "python", "tests": tests, "limits": {"timeout": 1},
               "submissions": [{"id": f"s{i}", "code": f"# {i}\nprint(3)"} for i in range(submissions)]}

    with SmallWrites(other["id"]) as writes:
        started = time.monotonic()
        body = post_batch(client, owner, **payload).get_json()
        created_in, started = time.monotonic() - started, time.monotonic()
        cancelled = client.delete(f"/codestudio/batch/{body['id']}", headers=owner["headers"])
        cancelled_in = time.monotonic() - started
    assert body["progress"]["total"] == largest == submissions * MAX_TESTS
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    longest = writes.result["longest"]
    print(f"\n{largest} cases: created in {created_in:.2f} s, cancelled in {cancelled_in:.2f} s; "
          f"{writes.result['count']} small writes meanwhile, the longest {longest * 1000:.0f} ms")
    assert not writes.result["errors"], writes.result["errors"]
    assert writes.result["count"] > 20 and longest < LONGEST_WAIT_SECONDS, (
        f"another user's write waited {longest:.2f} s (the batch was created in {created_in:.2f} s)")

    # every case that never ran is given back to the quota; the few that ran (or were stopped) are billed
    progress = _settled(client, owner, body["id"])
    assert progress["cancelled"] > largest - 2000
    with app.app_context():
        from app.extensions import db
        from app.models import BatchCase, UsageRecord

        billed = db.session.execute(sa.select(sa.func.count()).select_from(UsageRecord).join(BatchCase).where(
            BatchCase.batch_id == body["id"])).scalar_one()
    quota = client.get("/codestudio/stats", headers=owner["headers"]).get_json()["quota"]["executions_today"]
    assert quota["used"] == largest - progress["cancelled"] == billed
