"""Retention end to end: real runs and batches through the API and real workers, made old in the
database, then pruned by `codestudio prune` and by the task Celery beat schedules; the billing lines
stay. Migration 0012 up and down on a database of the session's kind (SQLite or PostgreSQL)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.batches import SUM_TESTS, grade
from tests.support.polling import wait_until
from tests.support.workers import stop_worker

ROOT = Path(__file__).resolve().parents[2]
OLD_DAYS = 120  # past the default RETENTION_DAYS (90)
UNSERVED = "retention-test"  # no worker serves it: recovery never sends its rows anywhere
SUM_C = '#include <stdio.h>\nint main(void){long a, b; scanf("%ld %ld", &a, &b); printf("%ld\\n", a + b);}\n'


def _age(app, model, row_id, days: float) -> datetime:
    """Make a row look `days` old; its new creation time."""
    from app.extensions import db

    created = datetime.now(UTC) - timedelta(days=days)
    with app.app_context():
        db.session.execute(sa.update(model).where(model.id == row_id).values(created_at=created))
        db.session.commit()
    return created


def _exists(app, model, row_id) -> bool:
    from app.extensions import db

    with app.app_context():
        return db.session.get(model, row_id) is not None


def _usage(app, **source) -> list[dict]:
    from app.extensions import db
    from app.models import UsageRecord

    with app.app_context():
        rows = db.session.scalars(sa.select(UsageRecord).filter_by(**source).order_by(UsageRecord.id)).all()
        return [{"id": r.id, "user_id": r.user_id, "language": r.language, "tier": r.tier, "status": r.status,
                 "kind": r.kind, "cpu_seconds": r.cpu_seconds, "cost": r.cost, "execution_id": r.execution_id,
                 "batch_case_id": r.batch_case_id, "batch_submission_id": r.batch_submission_id} for r in rows]


def _prune(app, *args: str) -> dict:
    from app.cli.prune import prune_command

    result = app.test_cli_runner().invoke(prune_command, ["--json", *args])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    return {k["kind"]: k for k in report["kinds"]} | {"dry_run": report["dry_run"]}


def _unfinished(app, user_id: int) -> tuple[str, str]:
    """An execution and a batch still queued, long ago, in a language no worker serves."""
    from app.extensions import db
    from app.models import Batch, Execution

    with app.app_context():
        execution = Execution(user_id=user_id, language=UNSERVED, code="", timeout=1, memory_mb=64)
        batch = Batch(user_id=user_id, language=UNSERVED, status="running", compare="exact", abs_tol=0, rel_tol=0,
                      tests=[], total=1)
        db.session.add_all([execution, batch])
        db.session.commit()
        ids = execution.id, batch.id
    _age(app, Execution, ids[0], OLD_DAYS * 2)
    _age(app, Batch, ids[1], OLD_DAYS * 2)
    return ids


def _when(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def _forget(app, *rows) -> None:
    from app.extensions import db

    with app.app_context():
        for model, row_id in rows:
            db.session.execute(sa.delete(model).where(model.id == row_id))
        db.session.commit()


@pytest.fixture
def nothing_old(app, worker):
    """Start from a database with nothing to prune, whatever earlier tests left."""
    _prune(app)


def test_old_final_runs_and_batches_go_recent_and_unfinished_stay_billing_stays(
        app, client, user, run, batch_worker, nothing_old):
    from app.models import Artifact, Batch, BatchCase, BatchSubmission, Execution, Judge0Submission

    old = run(code="open('/work/out/kept.txt', 'w').write('x')\nprint('old')")
    assert [a["name"] for a in old["artifacts"]] == ["kept.txt"]
    live, recent = run(code="print('live')"), run(code="print('recent')")
    judge0 = client.post("/judge0/submissions", json={"source_code": "print(7)", "language_id": 71},
                         headers={"X-Auth-Token": user["key"]})
    assert judge0.status_code == 201, judge0.get_data(as_text=True)
    judge0_id = judge0.get_json()["token"].replace("-", "")
    wait_until(lambda: client.get(f"/codestudio/executions/{judge0_id}", headers=user["headers"]).get_json()[
        "status"] not in ("queued", "running"), 60, interval=0.2, what="the Judge0 submission finished")
    batch = grade(client, user, language="c", tests=SUM_TESTS, submissions=[{"id": "sum", "code": SUM_C}])
    assert batch["status"] == "done"
    stats_before = client.get("/codestudio/stats", headers=user["headers"]).get_json()

    from app.extensions import db

    with app.app_context():
        db.session.execute(sa.update(Execution).where(Execution.id == live["id"]).values(
            live={"tty": False, "cols": 80, "rows": 24}))
        db.session.commit()
        submission_id = db.session.scalar(sa.select(BatchSubmission.id).filter_by(batch_id=batch["id"]))
        case_ids = db.session.scalars(sa.select(BatchCase.id).filter_by(batch_id=batch["id"])).all()
    ages = {old["id"]: OLD_DAYS + 2, live["id"]: OLD_DAYS, judge0_id: OLD_DAYS + 1}
    dates = {eid: _age(app, Execution, eid, days) for eid, days in ages.items()}
    batch_date = _age(app, Batch, batch["id"], OLD_DAYS + 5)
    unfinished_run, unfinished_batch = _unfinished(app, user["id"])
    billed = {eid: _usage(app, execution_id=eid) for eid in ages}
    billed_batch = _usage(app, batch_case_id=case_ids[0]) + _usage(app, batch_submission_id=submission_id)
    assert all(len(lines) == 1 and lines[0]["cost"] > 0 for lines in billed.values())
    assert len(billed_batch) == 2  # a case's run, and the submission's compile

    dry = _prune(app, "--dry-run")
    assert dry["dry_run"] is True
    assert {k: dry[k]["rows"] for k in ("executions", "live_runs", "batches", "batch_submissions", "batch_cases")} \
        == {"executions": 2, "live_runs": 1, "batches": 1, "batch_submissions": 1, "batch_cases": 3}
    assert _when(dry["executions"]["oldest"]) == dates[old["id"]]
    assert _when(dry["executions"]["newest"]) == dates[judge0_id]
    assert _when(dry["live_runs"]["oldest"]) == _when(dry["live_runs"]["newest"]) == dates[live["id"]]
    assert _when(dry["batches"]["oldest"]) == _when(dry["batches"]["newest"]) == batch_date
    assert all(_exists(app, Execution, eid) for eid in ages) and _exists(app, Batch, batch["id"])

    done = _prune(app)
    assert done["dry_run"] is False
    assert {k: done[k]["rows"] for k in ("executions", "live_runs", "batches", "batch_submissions", "batch_cases")} \
        == {"executions": 2, "live_runs": 1, "batches": 1, "batch_submissions": 1, "batch_cases": 3}
    assert not any(_exists(app, Execution, eid) for eid in ages)
    assert not _exists(app, Batch, batch["id"]) and not _exists(app, BatchSubmission, submission_id)
    assert not any(_exists(app, BatchCase, cid) for cid in case_ids)
    assert not _exists(app, Judge0Submission, judge0_id)  # cascades with its execution
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Artifact).where(
            Artifact.execution_id == old["id"])) == 0
    assert client.get(f"/codestudio/executions/{old['id']}", headers=user["headers"]).status_code == 404
    assert client.get(f"/judge0/submissions/{judge0_id}", headers={"X-Auth-Token": user["key"]}).status_code == 404
    assert client.get(f"/codestudio/batch/{batch['id']}", headers=user["headers"]).status_code == 404

    # kept: the recent run, and whatever is not final however old
    assert _exists(app, Execution, recent["id"])
    assert _exists(app, Execution, unfinished_run) and _exists(app, Batch, unfinished_batch)
    # the billing lines outlive what they billed: same user, language, tier, status, CPU and cost
    for lines in billed.values():
        kept = _usage(app, id=lines[0]["id"])
        assert kept == [{**lines[0], "execution_id": None}]
        assert kept[0]["user_id"] == user["id"] and kept[0]["cost"] > Decimal(0)
    assert [_usage(app, id=line["id"])[0] for line in billed_batch] == [
        {**line, "batch_case_id": None, "batch_submission_id": None} for line in billed_batch]
    stats_after = client.get("/codestudio/stats", headers=user["headers"]).get_json()
    assert {k: stats_after[k] for k in ("executions", "cpu_seconds", "cost")} == \
        {k: stats_before[k] for k in ("executions", "cpu_seconds", "cost")}

    again = _prune(app)  # idempotent: nothing is left to go
    assert all(again[k]["rows"] == 0 for k in ("executions", "live_runs", "batches"))
    _forget(app, (Execution, unfinished_run), (Batch, unfinished_batch))


def test_chunks_smaller_than_the_work_still_prune_all_of_it(app, app_with, client, user, run, batch_worker,
                                                           nothing_old):
    from app.cli.prune import prune_command
    from app.models import Batch, Execution

    runs = [run(code=f"print({i})") for i in range(3)]
    batches = [grade(client, user, language="py", tests=SUM_TESTS,
                     submissions=[{"id": f"s{j}", "code": "print(sum(map(int, input().split())))"} for j in range(2)])
               for _ in range(2)]
    for r in runs:
        _age(app, Execution, r["id"], OLD_DAYS)
    for b in batches:
        _age(app, Batch, b["id"], OLD_DAYS)
    small = app_with(RETENTION_CHUNK_ROWS=2)  # 2 rows a transaction: every kind takes several
    result = small.test_cli_runner().invoke(prune_command, ["--json"])
    assert result.exit_code == 0, result.output
    went = {k["kind"]: k["rows"] for k in json.loads(result.output)["kinds"]}
    assert went == {"executions": 3, "live_runs": 0, "batches": 2, "batch_submissions": 4, "batch_cases": 12}
    assert not any(_exists(app, Execution, r["id"]) for r in runs)
    assert not any(_exists(app, Batch, b["id"]) for b in batches)


def test_a_prune_already_running_elsewhere_is_left_alone(app, run, nothing_old):
    from app.models import Execution
    from tasks.retention import LOCK_KEY

    old = run(code="print(1)")
    _age(app, Execution, old["id"], OLD_DAYS)
    app.extensions["redis"].set(LOCK_KEY, "another", ex=60)
    try:
        from app.cli.prune import prune_command

        result = app.test_cli_runner().invoke(prune_command, [])
        assert result.exit_code == 1 and "another process is pruning now" in result.output
        assert _exists(app, Execution, old["id"])
    finally:
        app.extensions["redis"].delete(LOCK_KEY)
    assert _prune(app)["executions"]["rows"] == 1 and not _exists(app, Execution, old["id"])


def test_zero_days_keeps_everything(app, app_with, run, nothing_old):
    from app.cli.prune import prune_command
    from app.models import Execution

    old = run(code="print(1)")
    _age(app, Execution, old["id"], OLD_DAYS * 10)
    forever = app_with(RETENTION_DAYS=0.0)
    for args in ([], ["--dry-run"]):
        result = forever.test_cli_runner().invoke(prune_command, args)
        assert result.exit_code == 0 and "everything is kept" in result.output
    assert _exists(app, Execution, old["id"])
    assert _prune(app)["executions"]["rows"] == 1


def test_celery_beat_sends_the_task_a_worker_prunes_with(app, run, worker, tmp_path, nothing_old):
    from app.models import Execution
    from tasks.retention import LAST_REPORT_KEY

    client = app.extensions["redis"]
    client.delete(LAST_REPORT_KEY)
    old, recent = run(code="print('old')"), run(code="print('recent')")
    _age(app, Execution, old["id"], OLD_DAYS)
    line = _usage(app, execution_id=old["id"])
    log = tmp_path / "beat.log"
    with open(log, "w") as out:
        beat = subprocess.Popen(
            [str(Path(sys.executable).with_name("celery")), "-A", "worker:celery", "beat", "--loglevel", "INFO",
             "-s", str(tmp_path / "celerybeat-schedule"), "--pidfile", str(tmp_path / "beat.pid")],
            cwd=ROOT, env={**os.environ, "RETENTION_INTERVAL_SECONDS": "1"}, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: not _exists(app, Execution, old["id"]), 60, interval=0.5,
                   what=lambda: f"the old run pruned; beat log:\n{log.read_text()[-3000:]}")
        report = json.loads(wait_until(lambda: client.get(LAST_REPORT_KEY), 10))
    finally:
        stop_worker(beat, grace=10)
    assert "Sending due task codestudio-retention (tasks.retention.prune)" in log.read_text()
    assert report["dry_run"] is False and {k["kind"] for k in report["kinds"]} >= {"executions", "batches"}
    assert _exists(app, Execution, recent["id"])
    assert _usage(app, id=line[0]["id"]) == [{**line[0], "execution_id": None}]


def test_the_task_sent_by_name_dry_runs_through_a_worker(app, run, worker, nothing_old):
    from app.models import Execution
    from tasks.retention import LAST_REPORT_KEY
    from tasks.routing import RETENTION_TASK

    client = app.extensions["redis"]
    client.delete(LAST_REPORT_KEY)
    old = run(code="print('old')")
    created = _age(app, Execution, old["id"], OLD_DAYS)
    app.extensions["celery"].send_task(RETENTION_TASK, kwargs={"dry_run": True})  # routed to maintenance
    report = json.loads(wait_until(lambda: client.get(LAST_REPORT_KEY), 30, what="the dry run's report"))
    kinds = {k["kind"]: k for k in report["kinds"]}
    assert report["dry_run"] is True and kinds["executions"]["rows"] == 1
    assert _when(kinds["executions"]["oldest"]) == created
    assert _exists(app, Execution, old["id"])  # reported, not deleted
    assert _prune(app)["executions"]["rows"] == 1


def _fresh_database(tmp_path) -> tuple[str, list]:
    server = os.environ.get("CODESTUDIO_TEST_DATABASE_URL")
    if not server:
        return f"sqlite:///{tmp_path / 'migrations.db'}", []
    from tests.support.databases import create_pg_database

    url, drop = create_pg_database(server, f"codestudio_migration_{uuid.uuid4().hex[:8]}")
    return url.replace("postgresql://", "postgresql+psycopg://", 1), [drop]


def test_migration_0012_keeps_usage_when_runs_go_and_downgrades(app_with, user, tmp_path):
    from flask_migrate import downgrade, upgrade

    from app.extensions import db

    url, cleanups = _fresh_database(tmp_path)
    migrations = str(ROOT / "app" / "migrations")
    other = app_with(SQLALCHEMY_DATABASE_URI=url)

    def run_and_bill(tag: str) -> tuple[str, int]:
        execution_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        db.session.execute(sa.text(
            "INSERT INTO executions (id, user_id, language, status, code, stdin, args, files, timeout, memory_mb,"
            " runs, stdout_truncated, stderr_truncated, attempts, created_at) VALUES (:id, 1, 'python', 'success',"
            " :code, :empty, '[]', '[]', 1, 64, 1, false, false, 1, :now)"),
            {"id": execution_id, "code": tag, "empty": b"", "now": now})
        line = db.session.execute(sa.text(
            "INSERT INTO usage_records (execution_id, kind, user_id, language, tier, status, cpu_seconds,"
            " wall_seconds, cost, created_at) VALUES (:id, 'run', 1, 'python', 'pro', 'success', 0.25, 0.5,"
            " 0.001250, :now) RETURNING id"), {"id": execution_id, "now": now}).scalar_one()
        db.session.commit()
        return execution_id, line

    def delete_run(execution_id: str) -> None:
        db.session.execute(sa.text("DELETE FROM executions WHERE id = :id"), {"id": execution_id})
        db.session.commit()

    def line_of(line_id: int):
        row = db.session.execute(sa.text("SELECT execution_id, cost FROM usage_records WHERE id = :id"),
                                 {"id": line_id}).one_or_none()
        db.session.rollback()  # hold no lock a migration would wait for
        return row

    def ondelete() -> set:
        """How the usage records' source keys delete, and whether executions are indexed by age."""
        inspector = sa.inspect(db.engine)
        keys = inspector.get_foreign_keys("usage_records")
        indexed = "ix_executions_created_at" in {i["name"] for i in inspector.get_indexes("executions")}
        return {k["options"].get("ondelete") for k in keys if k["referred_table"] != "users"} | {indexed}

    try:
        with other.app_context():
            upgrade(directory=migrations, revision="0011")
            db.session.execute(sa.text("INSERT INTO users (id, email, tier, created_at) VALUES"
                                       " (1, 'm@example.test', 'pro', :now)"), {"now": datetime.now(UTC)})
            db.session.commit()
            assert ondelete() == {"CASCADE", False}
            upgrade(directory=migrations, revision="0012")
            assert ondelete() == {"SET NULL", True}
            kept_run, kept_line = run_and_bill("kept")
            delete_run(kept_run)
            assert line_of(kept_line)[0] is None and Decimal(str(line_of(kept_line)[1])) == Decimal("0.00125")

            downgrade(directory=migrations, revision="0011")
            assert ondelete() == {"CASCADE", False}
            gone_run, gone_line = run_and_bill("gone")
            delete_run(gone_run)
            assert line_of(gone_line) is None and line_of(kept_line) is not None  # CASCADE again

            upgrade(directory=migrations, revision="head")
            assert ondelete() == {"SET NULL", True}
            db.session.remove()
            db.engine.dispose()
    finally:
        for cleanup in cleanups:
            cleanup()
