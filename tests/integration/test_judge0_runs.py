"""Judge0's number_of_runs through the real stack: compiled once, billed for exactly the runs that
happened, each run counted against the daily quota, and refused (Judge0's 422) when the runs
could not fit in the one task that runs them."""
from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal

import pytest

from tests.support.polling import get_json, wait_until

CPP = '#include <iostream>\nint main(){std::cout<<"hi\\n";}'


def _submit(client, user, code: str, language_id: int, **fields) -> str:
    response = client.post("/judge0/submissions", json={"source_code": code, "language_id": language_id, **fields},
                           headers={"X-Auth-Token": user["key"]})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["token"].replace("-", "")


def _finished(client, user, execution_id: str, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds

    def ended() -> dict | None:
        row = get_json(client, f"/codestudio/executions/{execution_id}", user["headers"], deadline)
        return row if row["status"] not in ("queued", "running") else None

    return wait_until(ended, seconds, interval=0.1, what=f"execution {execution_id} finished")


def _held(row: dict) -> float:
    """How long the execution held a worker."""
    return (datetime.fromisoformat(row["finished_at"]) - datetime.fromisoformat(row["started_at"])).total_seconds()


def _stats(client, user) -> dict:
    return get_json(client, "/codestudio/stats", user["headers"], time.monotonic() + 30)


def test_repeated_runs_compile_once(client, make_user, worker):
    """g++ takes about a second per compile, a run of the program milliseconds: eight runs that
    recompiled would hold the worker about eight times as long as one."""
    user = make_user()
    single = _finished(client, user, _submit(client, user, CPP, 54))
    repeated = _finished(client, user, _submit(client, user, CPP, 54, number_of_runs=8))
    assert (single["status"], repeated["status"], repeated["stdout"]) == ("success", "success", "hi\n"), repeated
    print(f"held a worker: 1 run {_held(single):.2f} s, 8 runs {_held(repeated):.2f} s")
    assert _held(repeated) < 3 * _held(single), (_held(single), _held(repeated))


def test_billing_is_exactly_the_runs_that_happened(client, app, make_user, worker):
    prices = app.config["TIERS"]["pro"]
    # the first run fails: one run happened, and only it is billed
    stopped = make_user()
    burn = "import sys\nx = 0\nfor i in range(3_000_000): x += i\nsys.exit(1)"
    row = _finished(client, stopped, _submit(client, stopped, burn, 71, number_of_runs=20))
    assert row["status"] == "error" and row["cpu_time"] > 0.05, row
    billed = _stats(client, stopped)
    assert billed["cpu_seconds"] == pytest.approx(row["cpu_time"], abs=1e-3), (billed, row)
    assert Decimal(billed["cost"]) == (prices["per_execution"] + prices["per_cpu_second"]
                                       * Decimal(str(billed["cpu_seconds"]))).quantize(Decimal("0.000001"))
    # every run succeeds: all five are billed, each as an execution (cpu_time shows their mean)
    complete = make_user()
    row = _finished(client, complete, _submit(client, complete, "print(1)", 71, number_of_runs=5))
    assert row["status"] == "success", row
    billed = _stats(client, complete)
    assert billed["cpu_seconds"] == pytest.approx(5 * row["cpu_time"], abs=5e-4), (billed, row)
    assert Decimal(billed["cost"]) == (5 * prices["per_execution"] + prices["per_cpu_second"]
                                       * Decimal(str(billed["cpu_seconds"]))).quantize(Decimal("0.000001"))


def test_each_run_counts_against_the_daily_quota(client, app, make_user, worker):
    app.config["TIERS"]["six-a-day"] = {**app.config["TIERS"]["pro"], "executions_per_day": 6}
    try:
        user = make_user("six-a-day")
        _finished(client, user, _submit(client, user, "print(1)", 71, number_of_runs=5))
        assert _stats(client, user)["quota"]["executions_today"] == {"used": 5, "limit": 6, "remaining": 1}
        refused = client.post("/judge0/submissions", json={"source_code": "print(1)", "language_id": 71,
                                                           "number_of_runs": 2}, headers={"X-Auth-Token": user["key"]})
        assert refused.status_code == 429, refused.get_data(as_text=True)
        body = refused.get_json()
        assert body["code"] == "daily_quota_exceeded", body
        assert body["error"].startswith("2 executions requested and 1 are left today"), body
        never = client.post("/judge0/submissions", json={"source_code": "print(1)", "language_id": 71,
                                                         "number_of_runs": 7}, headers={"X-Auth-Token": user["key"]})
        assert never.status_code == 422 and never.get_json() == {
            "number_of_runs": ["the six-a-day tier allows at most 6 executions a day"]}
        _submit(client, user, "print(1)", 71)  # the last one left
        assert _stats(client, user)["quota"]["executions_today"]["remaining"] == 0
    finally:
        app.config["TIERS"].pop("six-a-day")


def test_runs_that_could_not_fit_in_one_task_are_refused(client, user, worker):
    slow = {"cpu_time_limit": 15, "cpu_extra_time": 5, "wall_time_limit": 20}
    refused = client.post("/judge0/submissions", json={"source_code": "print(1)", "language_id": 71,
                                                       "number_of_runs": 20, **slow},
                          headers={"X-Auth-Token": user["key"]})
    assert refused.status_code == 422, refused.get_data(as_text=True)
    assert refused.get_json() == {"number_of_runs": [
        "at most 11 runs with a time limit of 20 s fit in one submission; lower number_of_runs or the time limits"]}
    compiled = client.post("/judge0/submissions", json={"source_code": CPP, "language_id": 54,
                                                        "number_of_runs": 11, **slow},
                           headers={"X-Auth-Token": user["key"]})
    assert compiled.status_code == 422 and "at most 10 runs" in compiled.get_json()["number_of_runs"][0]
    # Judge0's defaults (a 6 s limit) with its most runs fit
    accepted = _finished(client, user, _submit(client, user, CPP, 54, number_of_runs=20))
    assert (accepted["status"], accepted["stdout"]) == ("success", "hi\n"), accepted
