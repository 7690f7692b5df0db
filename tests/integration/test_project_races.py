"""Concurrent writes to one user's projects and files, in orders forced through the real stack.

Two requests run through the app in two threads. The database driver's own statement hook
holds the first just before it sends a chosen statement (by then it holds whatever locks it
took); the second then runs up to the per-user lock; then the first goes on. After every such
interleaving the storage books balance: the size column summed == the bytes stored == /stats.
"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from tests.support.project_api import ProjectApi, assert_books_balance, problem

USER_LOCK = "UPDATE USERS"  # the per-user lock every storage write takes
KIB = 1024
HOLD_SECONDS = 20  # a held request goes on by itself after this, should the test fail meanwhile


@dataclass
class Step:
    """One request, and the statement (its first words) it is held before or watched for."""
    send: Callable[[ProjectApi], object]
    at: str


@dataclass
class Gate:
    at: str
    hold: bool
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class Interleaving:
    def __init__(self, app, headers: dict):
        self.app, self.headers, self.gates = app, headers, {}

    def _before_execute(self, conn, cursor, statement, parameters, context, executemany):
        gate = self.gates.get(threading.current_thread().name)
        if gate is not None and not gate.reached.is_set() and statement.lstrip().upper().startswith(gate.at):
            gate.reached.set()
            if gate.hold:
                gate.release.wait(HOLD_SECONDS)

    def _thread(self, step: Step, hold: bool, results: dict) -> tuple[threading.Thread, Gate]:
        name = f"step-{uuid.uuid4().hex[:8]}"
        gate = self.gates[name] = Gate(step.at, hold)

        def send():
            try:
                results[name] = step.send(ProjectApi(self.app.test_client(), self.headers))
            finally:
                gate.reached.set()  # a request that never sends the statement has passed that point too

        return threading.Thread(target=send, name=name), gate

    def run(self, first: Step, second: Step):
        """(first's response, second's response): first held before `first.at` while second runs up to
        `second.at` (and on into the lock wait, if the first holds it); then both finish."""
        from app.extensions import db

        with self.app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", self._before_execute)
        results: dict = {}
        try:
            held, held_gate = self._thread(first, True, results)
            other, other_gate = self._thread(second, False, results)
            held.start()
            assert held_gate.reached.wait(30), "the first request never reached its statement"
            other.start()
            assert other_gate.reached.wait(30), "the second request never reached the lock"
            other.join(0.3)  # let it block on the lock the first holds (it cannot pass it)
            held_gate.release.set()
            held.join(60)
            other.join(60)
        finally:
            held_gate.release.set()
            sa.event.remove(engine, "before_cursor_execute", self._before_execute)
        return results[held.name], results[other.name]


@pytest.fixture
def race(app, client, user):
    """(api, interleave(first, second)), with the storage books checked after every interleaving."""
    api = ProjectApi(client, user["headers"])
    interleaving = Interleaving(app, user["headers"])
    yield api, interleaving.run
    assert_books_balance(app, client, user)


def update(pid, name, content):
    return lambda api: api.post("file/update", {"project_id": pid, "filename": name, "content": content})


def create(pid, name, content):
    return lambda api: api.post("file/create", {"project_id": pid, "filename": name, "content": content})


def delete(pid, name):
    return lambda api: api.post("file/delete", {"project_id": pid, "filename": name})


def read(api, pid, name):
    return api.get("file/read", project_id=pid, filename=name).get_json()


@pytest.mark.parametrize("same_content", [False, True], ids=["new-content", "same-content"])
def test_update_waiting_for_the_lock_writes_content_and_size_together(race, app, client, user, same_content):
    """An update that read the file before another update emptied it still writes both columns."""
    api, interleave = race
    pid = api.project("size-desync")["id"]
    before = "a" * (256 * KIB)
    api.file(pid, "f.txt", before)
    wanted = before if same_content else "b" * (256 * KIB)
    emptied, updated = interleave(Step(update(pid, "f.txt", ""), "UPDATE PROJECT_FILES"),
                                  Step(update(pid, "f.txt", wanted), USER_LOCK))
    assert emptied.status_code == 200 and updated.status_code == 200, (emptied.get_json(), updated.get_json())
    assert updated.get_json()["content"] == wanted and updated.get_json()["size"] == 256 * KIB
    stored = read(api, pid, "f.txt")
    assert (stored["content"] == wanted, stored["size"]) == (True, 256 * KIB)  # the answer is what is stored
    assert_books_balance(app, client, user)
    api.file(pid, "g.txt", "c" * (256 * KIB))  # the next write is counted from true books
    assert assert_books_balance(app, client, user)["sizes"] == 512 * KIB


def test_storage_quota_holds_after_racing_updates(app, client, make_user):
    """The free tier's 5 MiB: racing updates cannot leave more stored than the books say."""
    free = make_user("free")
    api = ProjectApi(client, free["headers"])
    interleave = Interleaving(app, free["headers"]).run
    pid = api.project("quota")["id"]
    for i in range(19):
        api.file(pid, f"f{i}.txt", "a" * (256 * KIB))
    interleave(Step(update(pid, "f0.txt", ""), "UPDATE PROJECT_FILES"),
               Step(update(pid, "f0.txt", "b" * (256 * KIB)), USER_LOCK))
    assert_books_balance(app, client, free)
    other = api.project("quota-2")["id"]  # (a project of its own: the free tier has 20 files per project)
    api.file(other, "last.txt", "c" * (256 * KIB))  # exactly 5 MiB now
    problem(api.post("file/create", {"project_id": other, "filename": "over.txt", "content": "d"}), 422,
            "storage_quota_exceeded")
    assert assert_books_balance(app, client, free)["stored"] == 5 << 20


def test_update_of_a_file_deleted_meanwhile_is_404(race):
    api, interleave = race
    pid = api.project("update-deleted")["id"]
    api.file(pid, "f.txt", "x" * 1000)
    deleted, updated = interleave(Step(delete(pid, "f.txt"), "DELETE FROM PROJECT_FILES"),
                                  Step(update(pid, "f.txt", "y"), USER_LOCK))
    assert deleted.status_code == 200
    problem(updated, 404, "file_not_found")
    problem(api.get("file/read", project_id=pid, filename="f.txt"), 404, "file_not_found")


def test_of_two_concurrent_deletes_one_is_404(race):
    api, interleave = race
    pid = api.project("delete-twice")["id"]
    api.file(pid, "f.txt", "x")
    first, second = interleave(Step(delete(pid, "f.txt"), "DELETE FROM PROJECT_FILES"),
                               Step(delete(pid, "f.txt"), USER_LOCK))
    assert first.status_code == 200
    problem(second, 404, "file_not_found")


def test_file_created_in_a_project_deleted_meanwhile_is_404(race):
    api, interleave = race
    pid = api.project("going-away")["id"]
    api.file(pid, "f.txt", "x" * 5000)
    deleted, created = interleave(Step(lambda a: a.delete(f"project/{pid}"), "DELETE FROM PROJECTS"),
                                  Step(create(pid, "g.txt", "y" * 5000), USER_LOCK))
    assert deleted.status_code == 200
    problem(created, 404, "project_not_found")


def test_file_and_directory_of_one_name_created_at_once_is_422(race):
    api, interleave = race
    pid = api.project("file-or-dir")["id"]
    as_file, as_dir = interleave(Step(create(pid, "d", "x"), "INSERT INTO PROJECT_FILES"),
                                 Step(create(pid, "d/m.py", "y"), USER_LOCK))
    assert as_file.status_code == 201
    body = problem(as_dir, 422, "invalid_file_name")
    assert body["file"] == "d/m.py" and "'d'" in body["detail"]
    assert [f["filename"] for f in api.get("file/list", project_id=pid).get_json()["items"]] == ["d"]


def test_one_name_created_twice_at_once_is_409(race):
    api, interleave = race
    pid = api.project("same-name")["id"]
    first, second = interleave(Step(create(pid, "x.py", "1"), "INSERT INTO PROJECT_FILES"),
                               Step(create(pid, "./x.py", "22"), USER_LOCK))
    assert first.status_code == 201
    problem(second, 409, "file_exists")
    assert read(api, pid, "x.py")["content"] == "1"
