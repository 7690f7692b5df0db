"""Fifty live runs at once for half a minute, through nginx and gunicorn: every conversation gets
back exactly what it sent and nothing else, and every run ends once, recorded and billed."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from tests.support.live_client import Closed, LiveClient, execution
from tests.support.workers import isolated_worker

pytestmark = pytest.mark.slow

RUNS = 50
SECONDS = 30
EVERY = 0.5
ECHO = """import os
print("ready", flush=True)
while data := os.read(0, 65536):
    os.write(1, data)
"""


@pytest.fixture
def many_processes(app, stack_env, tmp_path):
    """A worker with a process per live run (a live run holds its process while the caller talks to
    it), and a fleet pids cap that admits them all."""
    env = {**stack_env, "SANDBOX_TOTAL_PIDS": str(128 * RUNS)}
    with isolated_worker(app, env, tmp_path / "worker.log", "soak", "interactive", processes=RUNS) as worker:
        yield worker


def converse(front, user: dict, index: int, start_together: threading.Barrier) -> dict:
    """One caller: a live echo run, a tagged line every EVERY seconds for SECONDS, then end of input."""
    client = LiveClient(front, key=user["key"], timeout=120)
    try:
        # the run's wall clock covers the wait for all fifty to be ready, then the conversation
        execution_id = client.start("python", ECHO, limits={"timeout": 120})
        client.until_output("ready\n", timeout=120)
        start_together.wait(timeout=120)
        sent = []
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            line = f"caller {index} line {len(sent)}\n"
            client.send(type="stdin", data=line)
            sent.append(line)
            client.until_output("".join(sent), timeout=30)
            time.sleep(EVERY)
        client.send(type="eof")
        last, close_code = client.finish(timeout=60)
        return {"id": execution_id, "sent": "ready\n" + "".join(sent), "got": client.output(), "last": last,
                "close": close_code}
    except (Closed, TimeoutError) as exc:  # reported with the others, with how the conversation ended
        return {"failed": repr(exc), "frames": client.frames[-3:]}
    finally:
        client.close()


def test_fifty_live_runs_for_thirty_seconds_none_lost_none_crossed(app, front, make_user, many_processes):
    users = [make_user("enterprise") for _ in range(RUNS)]  # separate users: any crossing is another user's data
    together = threading.Barrier(RUNS)
    with ThreadPoolExecutor(RUNS) as pool:
        outcomes = list(pool.map(lambda i: converse(front, users[i], i, together), range(RUNS)))
    failed = [(index, outcome) for index, outcome in enumerate(outcomes) if "failed" in outcome]
    assert not failed, [(index, outcome["failed"], [{k: str(v)[:300] for k, v in f.items()} for f in outcome["frames"]])
                        for index, outcome in failed]
    for index, outcome in enumerate(outcomes):
        assert outcome["got"] == outcome["sent"], (index, outcome["got"][-200:])  # nothing lost, nothing foreign
        assert outcome["last"]["type"] == "exit" and outcome["close"] == 1000, outcome["last"]
        assert outcome["last"]["result"]["status"] == "success", outcome["last"]
        assert outcome["sent"].count("\n") >= SECONDS / (EVERY + 1)  # it really talked for the whole time
        recorded = execution(front, users[index], outcome["id"])
        assert recorded["status"] == "success" and recorded["stdout"] == outcome["sent"], recorded
    with app.app_context():
        from app.extensions import db
        from app.models import UsageRecord
        billed = db.session.execute(sa.select(UsageRecord.execution_id, sa.func.count()).where(
            UsageRecord.execution_id.in_([o["id"] for o in outcomes])).group_by(UsageRecord.execution_id)).all()
    assert len(billed) == RUNS and {count for _, count in billed} == {1}
