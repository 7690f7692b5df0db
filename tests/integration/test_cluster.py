"""Workers on several hosts against one PostgreSQL and one Redis (docs/cluster.md).

Host A (a network namespace) runs PostgreSQL, Redis and the API; hosts B and C run Python workers,
host D a worker of the JVM languages only; each reaches host A over its own veth link, by address.
Runs and batches are shared by B and C; a host cut off or dying mid-run loses nothing (its run
finishes once, on the other host, billed once); GET /codestudio/languages follows hosts coming and
going. The tests share the hosts, in file order: the last one leaves no Python host running."""
from __future__ import annotations

import time

import pytest

from tests.support import cluster_checks as checks
from tests.support.cluster_checks import python_hosts_fixture, user_fixture  # noqa: F401 (fixtures)
from tests.support.polling import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600), checks.SKIP_ON_SESSION_STORES]

JVM = ["lang.java", "lang.kotlin", "batch.java", "batch.kotlin"]
JAVA = 'class Main { public static void main(String[] a) { System.out.println("jvm"); } }'


@pytest.fixture(scope="module")
def cluster():
    yield from checks.running_cluster(("b", "c", "d"))


def test_runs_and_a_batch_are_shared_by_both_hosts(cluster, python_hosts, user):
    checks.runs_and_a_batch_shared(cluster, python_hosts, user)


def test_a_jvm_host_serves_only_the_jvm_queues_and_languages_follow_it(cluster, python_hosts, user):
    before = cluster.languages()
    assert before["python"] and not before["java"] and not before["kotlin"]
    assert checks.refused_for_no_worker(cluster, user, "java", JAVA)

    jvm = cluster.start_worker(cluster.network.hosts["d"], JVM, processes=1, wait=180)
    advertised = cluster.advertised(jvm)
    assert set(advertised["queues"]) <= set(JVM) and set(advertised["languages"]) <= {"java", "kotlin"}
    wait_until(lambda: cluster.languages()["java"], 10, interval=0.5, what="java available")
    java = checks.submit(cluster, user, JAVA, language="java")
    pythons = [checks.submit(cluster, user, "print('py')") for _ in range(4)]
    assert checks.finished(cluster, user, java, seconds=150)["stdout"] == "jvm\n"
    assert cluster.row("executions", java)["worker"] == jvm.name
    assert all(checks.finished(cluster, user, run)["stdout"] == "py\n" for run in pythons)
    assert jvm.name not in {cluster.row("executions", run)["worker"] for run in pythons}

    cluster.stop_worker(jvm)  # a warm shutdown withdraws its languages at once
    wait_until(lambda: not cluster.languages()["java"], 10, interval=0.5, what="java unavailable")
    assert not cluster.languages()["kotlin"] and cluster.languages()["python"]


def test_a_host_cut_off_mid_run_finishes_nothing_twice(cluster, python_hosts, user):
    """The link of the host running the run goes down: the other host takes the attempt over once it
    is overdue and finishes it; when the link comes back, the cut-off attempt (its run long over)
    records and bills nothing, and the host serves again."""
    from tasks import keys

    execution_id = checks.submit(cluster, user, checks.SLOW, limits={"timeout": 5})
    victim, survivor = checks.claimed_by(cluster, execution_id, python_hosts)
    time.sleep(1)  # inside its jail by now
    ended_before = victim.log.read_text().count("celery.app.trace")
    cluster.network.cut(victim.host)
    try:
        checks.finished_once_by(cluster, user, execution_id, survivor)
        wait_until(lambda: not cluster.redis.exists(keys.worker_key(victim.name)), keys.HEARTBEAT_TTL_SECONDS + 5,
                   interval=0.5, what="the cut-off host's heartbeat expired")
    finally:
        cluster.network.restore(victim.host)
    wait_until(lambda: cluster.redis.exists(keys.worker_key(victim.name)), 90, interval=0.5,
               what=lambda: f"the host back\n{victim.log.read_text()[-3000:]}")
    # its own attempt reached the database once the link was back, and was turned away there
    wait_until(lambda: victim.log.read_text().count("celery.app.trace") > ended_before, 90, interval=0.5,
               what=lambda: f"the cut-off attempt ended\n{victim.log.read_text()[-3000:]}")
    checks.finished_once_by(cluster, user, execution_id, survivor)


def test_a_host_that_dies_mid_run_loses_nothing(cluster, python_hosts, user):
    """The other host takes the attempt over once it is overdue, runs it to the end, and it is
    recorded and billed once; then languages follow the hosts that are left."""
    from tasks import keys

    victim, survivor = checks.host_dies_mid_run(cluster, python_hosts, user)
    # the dead host's heartbeat runs out; Python stays available while the survivor serves it
    wait_until(lambda: not cluster.redis.exists(keys.worker_key(victim.name)), keys.HEARTBEAT_TTL_SECONDS + 5,
               interval=0.5, what="the dead host's heartbeat expired")
    assert cluster.languages()["python"]
    cluster.stop_worker(survivor)
    wait_until(lambda: not cluster.languages()["python"], 10, interval=0.5, what="python unavailable")
    assert checks.refused_for_no_worker(cluster, user, "python", "print(1)")
