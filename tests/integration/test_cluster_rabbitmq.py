"""Workers on several hosts with RabbitMQ as the Celery broker (docs/cluster.md): host A runs
PostgreSQL, Redis (heartbeats and wait signals), RabbitMQ and the API; hosts B and C run Python
workers. Runs and batches are shared by both; a host that dies mid-run loses nothing."""
from __future__ import annotations

import pytest

from tests.support import cluster_checks as checks
from tests.support.cluster_checks import python_hosts_fixture, user_fixture  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600), checks.SKIP_ON_SESSION_STORES]


@pytest.fixture(scope="module")
def cluster():
    yield from checks.running_cluster(("b", "c"), broker="amqp")


def test_runs_and_a_batch_are_shared_by_both_hosts(cluster, python_hosts, user):
    for worker in python_hosts.values():
        assert f"Connected to amqp://guest:**@{cluster.a.address}:5672//" in worker.log.read_text()
    checks.runs_and_a_batch_shared(cluster, python_hosts, user)


def test_a_host_that_dies_mid_run_loses_nothing(cluster, python_hosts, user):
    checks.host_dies_mid_run(cluster, python_hosts, user)
