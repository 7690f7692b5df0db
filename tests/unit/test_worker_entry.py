"""The worker's entry builds the worker's app only: the database, Redis, Celery and the tasks, none
of the API's blueprints, rate limiter or OpenAPI document."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import worker
worker.celery.loader.import_default_modules()
print(json.dumps({
    "blueprints": sorted(worker.app.blueprints),
    "extensions": sorted(worker.app.extensions),
    "http_modules": sorted(m for m in ("flask_limiter", "app.api", "app.ratelimit") if m in sys.modules),
    "tasks": sorted(t for t in worker.celery.tasks if t.startswith("tasks.")),
}))
"""


def test_the_worker_entry_builds_no_http_layer(tmp_path):
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "CODESTUDIO_INSTANCE": str(tmp_path)})
    built = json.loads(out.stdout.strip().splitlines()[-1])
    assert built["blueprints"] == []
    assert built["extensions"] == ["celery", "redis", "sqlalchemy"]
    assert built["http_modules"] == []
    assert built["tasks"] == ["tasks.execute_run", "tasks.grade_submission", "tasks.retention.prune",
                              "tasks.send_callback"]
