"""Workers on several hosts with RabbitMQ as the Celery broker (docs/cluster.md): host A runs
PostgreSQL, Redis (heartbeats and wait signals), RabbitMQ and the API; hosts B and C run Python
workers. Runs and batches are shared by both; a host that dies mid-run loses nothing."""
from __future__ import annotations

import pytest

from tests.support import cluster_checks as checks
from tests.support.cluster import Cluster, Worker, make_cluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600), checks.SKIP_ON_SESSION_STORES]


@pytest.fixture(scope="module")
def cluster():
    made = make_cluster(broker="amqp")
    try:
        made.start()
        for label in ("b", "c"):
            made.network.add(label)
        yield made
    except Exception:
        print(made.logs())  # what each host said, in the failure's captured output
        raise
    finally:
        made.close()


@pytest.fixture(scope="module")
def python_hosts(cluster: Cluster) -> dict[str, Worker]:
    return checks.python_hosts(cluster)


@pytest.fixture(scope="module")
def user(cluster: Cluster) -> dict:
    return checks.new_user(cluster)


def test_runs_and_a_batch_are_shared_by_both_hosts(cluster, python_hosts, user):
    for worker in python_hosts.values():
        assert f"Connected to amqp://guest:**@{cluster.a.address}:5672//" in worker.log.read_text()
    checks.runs_and_a_batch_shared(cluster, python_hosts, user)


def test_a_host_that_dies_mid_run_loses_nothing(cluster, python_hosts, user):
    checks.host_dies_mid_run(cluster, python_hosts, user)
