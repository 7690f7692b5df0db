"""What the several-hosts tests check, whatever the broker (tests/integration/test_cluster*.py): runs
and batches sent to host A's API, served by workers on the other hosts."""
from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.support.batches import SUM_TESTS, post_batch, verdicts, wait_batch
from tests.support.cluster import Cluster, Worker, make_cluster
from tests.support.polling import get_json, wait_until

# they bring their own PostgreSQL and Redis (on host A): the session's stores change nothing, so CI's
# pass against the machine's PostgreSQL would only run them twice
SKIP_ON_SESSION_STORES = pytest.mark.skipif(bool(os.environ.get("CODESTUDIO_TEST_DATABASE_URL")),
                                            reason="brings its own stores: runs in the embedded pass")

PYTHON = ["lang.python", "batch.python"]
SUM = "import time\na, b = map(int, input().split())\ntime.sleep(0.3)\nprint(a + b)"
SLOW = "import time\ntime.sleep(3)\nprint('done')"  # run with a 5 s limit: overdue 8 s after its claim


def running_cluster(hosts: tuple[str, ...], broker: str = "redis") -> Iterator[Cluster]:
    """Host A started, then the worker hosts' links; each host's log printed if anything fails."""
    made = make_cluster(broker=broker)
    try:
        made.start()
        for label in hosts:
            made.network.add(label)
        yield made
    except Exception:
        print(made.logs())  # what each host said, in the failure's captured output
        raise
    finally:
        made.close()


@pytest.fixture(scope="module", name="python_hosts")
def python_hosts_fixture(cluster: Cluster) -> dict[str, Worker]:
    return python_hosts(cluster)


@pytest.fixture(scope="module", name="user")
def user_fixture(cluster: Cluster) -> dict:
    return new_user(cluster)


def python_hosts(cluster: Cluster) -> dict[str, Worker]:
    """Python workers on hosts B and C."""
    return {label: cluster.start_worker(cluster.network.hosts[label], PYTHON) for label in ("b", "c")}


def new_user(cluster: Cluster) -> dict:
    return cluster.user(f"{uuid.uuid4().hex[:10]}@example.test")


def submit(cluster: Cluster, user: dict, code: str, **fields) -> str:
    response = cluster.api.post("/codestudio/run", json={"language": "python", "code": code, "wait": False, **fields},
                                headers=user["headers"])
    assert response.status_code in (200, 201, 202), response.get_data(as_text=True)
    return response.get_json()["id"]


def finished(cluster: Cluster, user: dict, execution_id: str, seconds: float = 90) -> dict:
    deadline = time.monotonic() + seconds

    def ended() -> dict | None:
        body = get_json(cluster.api, f"/codestudio/executions/{execution_id}", user["headers"], deadline)
        return body if body["status"] not in ("queued", "running") else None

    return wait_until(ended, seconds, interval=0.3, what=lambda: f"execution {execution_id} final\n{cluster.logs()}")


def refused_for_no_worker(cluster: Cluster, user: dict, language: str, code: str) -> bool:
    response = cluster.api.post("/codestudio/run", json={"language": language, "code": code}, headers=user["headers"])
    return (response.status_code, response.get_json()["code"]) == (503, "no_worker")


def billed_runs(cluster: Cluster, *execution_ids: str) -> int:
    return cluster.count("SELECT count(*) FROM usage_records WHERE execution_id = ANY(:ids)", ids=list(execution_ids))


def runs_and_a_batch_shared(cluster: Cluster, hosts: dict[str, Worker], user: dict) -> None:
    """Eight runs and a six-submission batch: every host serves some, each is billed once."""
    ids = [submit(cluster, user, f"import time\ntime.sleep(0.8)\nprint({i})") for i in range(8)]
    bodies = [finished(cluster, user, execution_id) for execution_id in ids]
    assert [(b["status"], b["stdout"]) for b in bodies] == [("success", f"{i}\n") for i in range(8)]
    addresses = {worker.host.address for worker in hosts.values()}
    assert addresses <= cluster.peers(), "the hosts reach PostgreSQL and Redis over their links"
    served = {cluster.row("executions", execution_id)["worker"] for execution_id in ids}
    assert served == {worker.name for worker in hosts.values()}
    assert billed_runs(cluster, *ids) == 8

    submissions = [{"id": f"s{i}", "code": SUM} for i in range(6)]
    batch_id = post_batch(cluster.api, user, language="python", tests=SUM_TESTS,
                          submissions=submissions).get_json()["id"]
    body = wait_batch(cluster.api, user, batch_id)
    assert verdicts(body) == {f"s{i}": ["accepted"] * 3 for i in range(6)}
    graders = cluster.count("SELECT count(DISTINCT worker) FROM batch_submissions WHERE batch_id = :b", b=batch_id)
    assert graders == len(hosts), "every host grades some of the batch"
    billed = cluster.count("SELECT count(*) FROM usage_records u JOIN batch_cases c ON u.batch_case_id = c.id "
                           "JOIN batch_submissions s ON c.submission_id = s.id WHERE s.batch_id = :b", b=batch_id)
    assert billed == 6 * len(SUM_TESTS)


def claimed_by(cluster: Cluster, execution_id: str, workers: dict[str, Worker]) -> tuple[Worker, Worker]:
    """(the worker whose attempt is running the execution, the other one), once it runs."""
    def claimed() -> str | None:
        row = cluster.row("executions", execution_id)
        return row["worker"] if row["status"] == "running" else None

    name = wait_until(claimed, 60, interval=0.2, what="the run claimed")
    victim = next(w for w in workers.values() if w.name == name)
    return victim, next(w for w in workers.values() if w is not victim)


def finished_once_by(cluster: Cluster, user: dict, execution_id: str, survivor: Worker) -> None:
    """Ended well, by the survivor's attempt (the second), with one usage record."""
    body = finished(cluster, user, execution_id, seconds=90)
    assert (body["status"], body["stdout"]) == ("success", "done\n"), body
    row = cluster.row("executions", execution_id)
    assert (row["worker"], row["attempts"], row["stdout"]) == (survivor.name, 2, "done\n")
    assert billed_runs(cluster, execution_id) == 1


def host_dies_mid_run(cluster: Cluster, hosts: dict[str, Worker], user: dict) -> tuple[Worker, Worker]:
    """Whichever host claims the run crashes (every process on it killed at once): the other one
    finishes it, recorded and billed once. (victim, survivor)"""
    execution_id = submit(cluster, user, SLOW, limits={"timeout": 5})
    victim, survivor = claimed_by(cluster, execution_id, hosts)
    time.sleep(1)  # inside its jail by now
    cluster.crash(victim.host)
    finished_once_by(cluster, user, execution_id, survivor)
    return victim, survivor
