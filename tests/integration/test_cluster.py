"""Workers on several hosts against one PostgreSQL and one Redis (docs/cluster.md).

Host A (a network namespace) runs PostgreSQL, Redis and the API; hosts B and C run Python workers,
host D a worker of the JVM languages only; each reaches host A over its own veth link, by address.
Runs and batches are shared by B and C; a host cut off or dying mid-run loses nothing (its run
finishes once, on the other host, billed once); GET /codestudio/languages follows hosts coming and
going. The tests share the hosts, in file order: the last one leaves no Python host running."""
from __future__ import annotations

import os
import time
import uuid

import pytest

from tests.support.batches import SUM_TESTS, post_batch, verdicts, wait_batch
from tests.support.cluster import Cluster, Worker, make_cluster
from tests.support.polling import get_json, wait_until

pytestmark = [
    pytest.mark.slow, pytest.mark.timeout(600),
    # it brings its own PostgreSQL and Redis (on host A): the session's stores change nothing, so CI's
    # pass against the machine's PostgreSQL would only run it twice
    pytest.mark.skipif(bool(os.environ.get("CODESTUDIO_TEST_DATABASE_URL")),
                       reason="brings its own stores: runs in the embedded pass (make test-cluster)"),
]

PYTHON = ["lang.python", "batch.python"]
JVM = ["lang.java", "lang.kotlin", "batch.java", "batch.kotlin"]
SUM = "import time\na, b = map(int, input().split())\ntime.sleep(0.3)\nprint(a + b)"


@pytest.fixture(scope="module")
def cluster():
    made = make_cluster()
    try:
        made.start()
        for label in ("b", "c", "d"):
            made.network.add(label)
        yield made
    except Exception:
        print(made.logs())  # what each host said, in the failure's captured output
        raise
    finally:
        made.close()


@pytest.fixture(scope="module")
def python_hosts(cluster: Cluster) -> dict[str, Worker]:
    hosts = cluster.network.hosts
    return {label: cluster.start_worker(hosts[label], PYTHON) for label in ("b", "c")}


@pytest.fixture(scope="module")
def user(cluster: Cluster) -> dict:
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


def test_runs_and_a_batch_are_shared_by_both_hosts(cluster, python_hosts, user):
    ids = [submit(cluster, user, f"import time\ntime.sleep(0.8)\nprint({i})") for i in range(8)]
    bodies = [finished(cluster, user, execution_id) for execution_id in ids]
    assert [(b["status"], b["stdout"]) for b in bodies] == [("success", f"{i}\n") for i in range(8)]
    addresses = {worker.host.address for worker in python_hosts.values()}
    assert addresses <= cluster.peers(), "the hosts reach PostgreSQL and Redis over their links"
    served = {cluster.row("executions", execution_id)["worker"] for execution_id in ids}
    assert served == {worker.name for worker in python_hosts.values()}
    assert cluster.count("SELECT count(*) FROM usage_records WHERE execution_id = ANY(:ids)", ids=ids) == 8

    submissions = [{"id": f"s{i}", "code": SUM} for i in range(6)]
    batch_id = post_batch(cluster.api, user, language="python", tests=SUM_TESTS,
                          submissions=submissions).get_json()["id"]
    body = wait_batch(cluster.api, user, batch_id)
    assert verdicts(body) == {f"s{i}": ["accepted"] * 3 for i in range(6)}
    graders = cluster.count("SELECT count(DISTINCT worker) FROM batch_submissions WHERE batch_id = :b", b=batch_id)
    assert graders == 2, "both hosts grade the batch"
    billed = cluster.count("SELECT count(*) FROM usage_records u JOIN batch_cases c ON u.batch_case_id = c.id "
                           "JOIN batch_submissions s ON c.submission_id = s.id WHERE s.batch_id = :b", b=batch_id)
    assert billed == 6 * len(SUM_TESTS)


def test_a_jvm_host_serves_only_the_jvm_queues_and_languages_follow_it(cluster, python_hosts, user):
    before = cluster.languages()
    assert before["python"] and not before["java"] and not before["kotlin"]
    refused = cluster.api.post("/codestudio/run", json={"language": "java", "code": "class Main {}"},
                               headers=user["headers"])
    assert (refused.status_code, refused.get_json()["code"]) == (503, "no_worker")

    jvm = cluster.start_worker(cluster.network.hosts["d"], JVM, processes=1, wait=180)
    advertised = cluster.advertised(jvm)
    assert set(advertised["queues"]) <= set(JVM) and set(advertised["languages"]) <= {"java", "kotlin"}
    wait_until(lambda: cluster.languages()["java"], 10, interval=0.5, what="java available")
    java = submit(cluster, user, 'class Main { public static void main(String[] a) { System.out.println("jvm"); } }',
                  language="java")
    pythons = [submit(cluster, user, "print('py')") for _ in range(4)]
    assert finished(cluster, user, java, seconds=150)["stdout"] == "jvm\n"
    assert cluster.row("executions", java)["worker"] == jvm.name
    assert all(finished(cluster, user, run)["stdout"] == "py\n" for run in pythons)
    assert jvm.name not in {cluster.row("executions", run)["worker"] for run in pythons}

    cluster.stop_worker(jvm)  # a warm shutdown withdraws its languages at once
    wait_until(lambda: not cluster.languages()["java"], 10, interval=0.5, what="java unavailable")
    assert not cluster.languages()["kotlin"] and cluster.languages()["python"]


def claimed_by(cluster: Cluster, execution_id: str, workers: dict[str, Worker]) -> tuple[Worker, Worker]:
    """(the worker whose attempt is running the execution, the other one), once it runs."""
    def claimed() -> str | None:
        row = cluster.row("executions", execution_id)
        return row["worker"] if row["status"] == "running" else None

    name = wait_until(claimed, 60, interval=0.2, what="the run claimed")
    victim = next(w for w in workers.values() if w.name == name)
    return victim, next(w for w in workers.values() if w is not victim)


def test_a_host_cut_off_mid_run_finishes_nothing_twice(cluster, python_hosts, user):
    """The link of the host running the run goes down: the other host takes the attempt over once it
    is overdue and finishes it; when the link comes back, the cut-off attempt (its run long over)
    records and bills nothing, and the host serves again."""
    from tasks import keys

    execution_id = submit(cluster, user, "import time\ntime.sleep(3)\nprint('done')", limits={"timeout": 5})
    victim, survivor = claimed_by(cluster, execution_id, python_hosts)
    time.sleep(1)  # inside its jail by now
    ended_before = victim.log.read_text().count("celery.app.trace")
    cluster.network.cut(victim.host)
    try:
        body = finished(cluster, user, execution_id, seconds=90)
        assert (body["status"], body["stdout"]) == ("success", "done\n"), body
        wait_until(lambda: not cluster.redis.exists(keys.worker_key(victim.name)), keys.HEARTBEAT_TTL_SECONDS + 5,
                   interval=0.5, what="the cut-off host's heartbeat expired")
    finally:
        cluster.network.restore(victim.host)
    wait_until(lambda: cluster.redis.exists(keys.worker_key(victim.name)), 90, interval=0.5,
               what=lambda: f"the host back\n{victim.log.read_text()[-3000:]}")
    # its own attempt reached the database once the link was back, and was turned away there
    wait_until(lambda: victim.log.read_text().count("celery.app.trace") > ended_before, 90, interval=0.5,
               what=lambda: f"the cut-off attempt ended\n{victim.log.read_text()[-3000:]}")
    row = cluster.row("executions", execution_id)
    assert (row["worker"], row["attempts"], row["stdout"]) == (survivor.name, 2, "done\n")
    assert cluster.count("SELECT count(*) FROM usage_records WHERE execution_id = :e", e=execution_id) == 1


def test_a_host_that_dies_mid_run_loses_nothing(cluster, python_hosts, user):
    """Whichever of B and C claims the run crashes (every process on it killed): the other takes the
    attempt over once it is overdue, runs it to the end, and it is recorded and billed once."""
    execution_id = submit(cluster, user, "import time\ntime.sleep(3)\nprint('done')", limits={"timeout": 5})
    victim, survivor = claimed_by(cluster, execution_id, python_hosts)
    time.sleep(1)  # inside its jail by now
    cluster.crash(victim.host)

    body = finished(cluster, user, execution_id, seconds=90)
    assert (body["status"], body["stdout"]) == ("success", "done\n"), body
    row = cluster.row("executions", execution_id)
    assert (row["worker"], row["attempts"]) == (survivor.name, 2)
    assert cluster.count("SELECT count(*) FROM usage_records WHERE execution_id = :e", e=execution_id) == 1

    # the dead host's heartbeat runs out; Python stays available while the survivor serves it
    from tasks import keys

    wait_until(lambda: not cluster.redis.exists(keys.worker_key(victim.name)), keys.HEARTBEAT_TTL_SECONDS + 5,
               interval=0.5, what="the dead host's heartbeat expired")
    assert cluster.languages()["python"]
    cluster.stop_worker(survivor)
    wait_until(lambda: not cluster.languages()["python"], 10, interval=0.5, what="python unavailable")
    refused = cluster.api.post("/codestudio/run", json={"language": "python", "code": "print(1)"},
                               headers=user["headers"])
    assert (refused.status_code, refused.get_json()["code"]) == (503, "no_worker")
