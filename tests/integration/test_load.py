"""A short load (bench/load.py, the CI variant of the 100-client run): 20 clients for 10 s through a
gunicorn API like `make run`'s, on the session's database, Redis and workers: no 5xx, no dropped
connection, every accepted execution and batch final with the right output, each billed once."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from bench.load import run_load, summary
from bench.run_bench import free_port
from tests.support.outage import billed
from tests.support.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def http_api(app, tmp_path):
    """The API as `make run` serves it (gunicorn, gthread), on the session's configuration."""
    port = free_port()
    with open(tmp_path / "gunicorn.log", "w") as log:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "-b", f"127.0.0.1:{port}", "-w", "2",
                                 "-k", "gthread", "--threads", "16", "--keep-alive", "5", "--no-control-socket",
                                 "wsgi:app"], cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _up(base, proc), 30, what="gunicorn answers")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _up(base: str, proc: subprocess.Popen) -> bool:
    assert proc.poll() is None, "gunicorn exited"
    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code == 200
    except requests.RequestException:  # not listening, or still loading the app
        return False


def test_load_no_server_errors_nothing_lost(app, http_api, make_user, worker, batch_worker):
    keys = [make_user("enterprise")["key"] for _ in range(2)]
    report = run_load(http_api, keys, clients=20, seconds=10, batches=2, drain_seconds=90)
    print(summary(report, 20))
    assert not report.server_errors and not report.lost and not report.wrong, summary(report, 20)
    assert len(report.expected) > 50 and len(report.batches) == 2
    from app.models import UsageRecord

    ids = list(report.expected)
    assert billed(app, UsageRecord.execution_id, ids) == {i: 1 for i in ids}  # each run billed once
    with app.app_context():
        from app.extensions import db
        from app.models import BatchCase

        cases = db.session.execute(sa.select(BatchCase.id).where(
            BatchCase.batch_id.in_(list(report.batches)))).scalars().all()
    assert len(cases) == 40 and billed(app, UsageRecord.batch_case_id, cases) == {c: 1 for c in cases}
