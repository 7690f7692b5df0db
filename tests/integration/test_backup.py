"""`codestudio backup` and `codestudio restore`: a round trip into an empty database keeps every
record of every durable table, on SQLite and on PostgreSQL (whichever the session runs on)."""
from __future__ import annotations

import gzip
import json

import sqlalchemy as sa

from app.cli.backup import backup_command, restore_command
from app.services import backup as archive
from tests.support.batches import SUM_TESTS, grade
from tests.support.project_api import ProjectApi


def dump(engine: sa.Engine) -> dict[str, list[dict]]:
    """Every archived table's rows, as the archive writes them (types made comparable)."""
    from app.extensions import db

    with engine.connect() as conn:
        return {table.name: [{c.name: archive._encode(c, row[c.name]) for c in table.columns}
                             for row in conn.execute(sa.select(table).order_by(*table.primary_key.columns)).mappings()]
                for table in archive.tables(db.metadata)}


def make_records(client, make_user, run, batch_worker) -> None:
    owner, other = make_user("pro"), make_user("free")
    projects = ProjectApi(client, owner["headers"])
    project = projects.project(name="backup-demo", language="python")
    projects.file(project["id"], "main.py", "print('é ünïcode', input())\n")
    projects.file(project["id"], "lib/data.txt", "x" * 5000)
    run(code="print(6 * 7)", headers=owner["headers"])
    run(code="import sys; sys.exit(3)", headers=other["headers"])
    run(project_id=project["id"], stdin="ok\n", headers=owner["headers"])
    grade(client, owner, language="python", tests=SUM_TESTS,
          submissions=[{"id": "right", "code": "a, b = map(int, input().split()); print(a + b)"}])


def test_backup_restores_into_an_empty_database_record_for_record(app, app_with, client, make_user, run,
                                                                 batch_worker, empty_database, tmp_path):
    make_records(client, make_user, run, batch_worker)
    path = tmp_path / "codestudio.backup.gz"
    result = app.test_cli_runner().invoke(backup_command, [str(path)])
    assert result.exit_code == 0, result.output
    with gzip.open(path, "rt") as source:
        manifest = json.loads(source.readline())
    assert manifest["format"] == archive.FORMAT and manifest["rows"]["usage_records"] >= 6
    assert "key_hash" in source_text(path) and "artifacts" not in manifest["rows"]

    restored = app_with(SQLALCHEMY_DATABASE_URI=empty_database)
    result = restored.test_cli_runner().invoke(restore_command, [str(path)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from app.extensions import db
        before = dump(db.engine)
    with restored.app_context():
        from app.extensions import db
        after = dump(db.engine)
        assert after == before
        assert sum(len(rows) for rows in after.values()) > 20
        # ids keep coming after the restored ones (PostgreSQL's sequences were moved past them)
        from app.services.apikeys import create_user
        user, _ = create_user("after-restore@example.test", "free")
        assert user.id > max(row["id"] for row in after["users"])


def source_text(path) -> str:
    with gzip.open(path, "rt") as source:
        return source.read()


def test_restore_refuses_a_database_that_is_not_empty_and_a_file_that_is_not_a_backup(app, run, tmp_path):
    run(code="print(1)")
    path = tmp_path / "b.gz"
    assert app.test_cli_runner().invoke(backup_command, [str(path)]).exit_code == 0
    result = app.test_cli_runner().invoke(restore_command, [str(path)])
    assert result.exit_code != 0 and "not empty" in result.output
    junk = tmp_path / "junk.gz"
    junk.write_bytes(b"not gzip at all")
    result = app.test_cli_runner().invoke(restore_command, [str(junk)])
    assert result.exit_code != 0 and "not a Code Studio backup" in result.output
