"""Cancelling a batch while its tests run: the running jails are stopped at once and billed once
for the CPU they used; only the tests that never started are given back to the quota."""
from __future__ import annotations

import time

import psutil
import sqlalchemy as sa

from tests.support.batches import post_batch
from tests.support.polling import get_json, wait_until
from tests.support.sandbox_suite import runs_a_jail

BURN = "import time\nend = time.process_time() + 8\nwhile time.process_time() < end:\n    pass\nprint(3)"


def _verdicts(client, user, batch_id) -> list[str]:
    body = get_json(client, f"/codestudio/batch/{batch_id}", user["headers"], time.monotonic() + 30)
    return sorted(r["verdict"] for s in body["submissions"] for r in s["results"])


def _jails_running(worker_pid: int) -> int:
    running = 0
    for child in psutil.Process(worker_pid).children():
        try:
            running += runs_a_jail(child)
        except psutil.NoSuchProcess:
            continue
    return running


def test_cancel_stops_running_tests_bills_them_once_and_refunds_only_unstarted(app, client, user, batch_worker):
    tests = [{"name": f"t{i}", "expected_output": "3\n"} for i in range(3)]
    batch_id = post_batch(client, user, language="python", tests=tests, limits={"timeout": 10},
                          submissions=[{"id": f"s{i}", "code": BURN} for i in range(2)]).get_json()["id"]
    # both worker processes are running a test (each burns 8 s of CPU)
    wait_until(lambda: _jails_running(batch_worker["proc"].pid) == 2, 60, what="two jails run")
    time.sleep(2)  # pacing: the tests burn CPU for a while before the cancel (billed below)

    cancelled_at = time.monotonic()
    response = client.delete(f"/codestudio/batch/{batch_id}", headers=user["headers"])
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    wait_until(lambda: _jails_running(batch_worker["proc"].pid) == 0, 10, what="the running jails are stopped")
    stopped_in = time.monotonic() - cancelled_at
    assert stopped_in < 1.5, f"the jails ran on for {stopped_in:.2f} s after the cancel"

    wait_until(lambda: "running" not in _verdicts(client, user, batch_id), 10, what="the stopped tests are recorded")
    body = client.get(f"/codestudio/batch/{batch_id}", headers=user["headers"]).get_json()
    assert _verdicts(client, user, batch_id) == ["cancelled"] * 4 + ["stopped"] * 2
    assert body["status"] == "cancelled" and body["verdicts"] == {"cancelled": 4, "stopped": 2}, body["verdicts"]
    assert body["progress"] == {"done": 6, "total": 6, "cancelled": 4, "percent": 100.0}
    stopped = [r for s in body["submissions"] for r in s["results"] if r["verdict"] == "stopped"]
    # billed for the CPU used until the stop: some (2 s in, less on a busy machine), far from the 8 s it wanted
    assert all(0.05 < r["time"] < 6.0 and r["points"] == 0 and "stopped" in r["message"] for r in stopped), stopped

    with app.app_context():
        from app.extensions import db
        from app.models import BatchCase, UsageRecord

        billed = db.session.execute(sa.select(BatchCase.status, UsageRecord.cpu_seconds, BatchCase.cpu_time)
                                    .join(UsageRecord, UsageRecord.batch_case_id == BatchCase.id)
                                    .where(BatchCase.batch_id == batch_id)).all()
    assert sorted(status for status, _, _ in billed) == ["stopped", "stopped"]  # once each, nothing else
    assert all(cpu == case_cpu for _, cpu, case_cpu in billed), billed
    quota = client.get("/codestudio/stats", headers=user["headers"]).get_json()["quota"]["executions_today"]
    assert quota["used"] == 2  # the two tests that ran; the four that never started are given back
