"""File names: one normal form (NFC, no `.` segments) on every API that takes files, look-alike and
invisible characters refused, and the work dir's own check (defence in depth) through the worker."""
from __future__ import annotations

import base64
import io
import zipfile

import pytest

from tests.support.project_api import ProjectApi, problem
from tests.support.sandbox_suite import wait_final

DECOMPOSED = "cafe\u0301.py"  # the same name as "café.py" to every user, in other code points


@pytest.fixture
def api(client, user):
    return ProjectApi(client, user["headers"])


@pytest.mark.parametrize("given, normal", [("./main.py", "main.py"), ("x/./y.py", "x/y.py"), ("a/.", "a"),
                                           (DECOMPOSED, "café.py")])
def test_project_files_are_named_in_normal_form(api, given, normal):
    pid = api.project(f"normal-{normal}")["id"]
    assert api.file(pid, given, "x")["filename"] == normal
    problem(api.post("file/create", {"project_id": pid, "filename": normal, "content": "y"}), 409, "file_exists")
    assert api.get("file/read", project_id=pid, filename=given).get_json()["filename"] == normal
    assert [f["filename"] for f in api.get("file/list", project_id=pid).get_json()["items"]] == [normal]


@pytest.mark.parametrize("first, second, status, code, named", [
    ("main.py", "./main.py", 409, "file_exists", "main.py"),
    ("x/y.py", "x/./y.py", 409, "file_exists", "x/y.py"),
    ("café.py", DECOMPOSED, 409, "file_exists", "café.py"),
    ("a/.", "./a/c", 422, "invalid_file_name", "a/c"),
    ("d/m.py", "./d", 422, "invalid_file_name", "d"),
])
def test_two_spellings_of_one_path_are_one_name(api, first, second, status, code, named):
    pid = api.project(f"alias-{first}-{second}")["id"]
    api.file(pid, first, "1")
    body = problem(api.post("file/create", {"project_id": pid, "filename": second, "content": "2"}), status, code)
    assert body.get("file", body.get("filename")) == named, body


REFUSED = {"next line": "a\u0085b.py", "line separator": "a\u2028b.py", "paragraph separator": "a\u2029b.py",
           "bidi override": "evil\u202eyp.exe", "byte order mark": "\ufeffmain.py", "no-break space": "a\u00a0b.py",
           "zero-width space": "a\u200bb.py", "ideographic space": "a\u3000b.py", "delete": "a\x7fb.py",
           "leading space": " main.py", "trailing space": "main.py ", "space after a slash": "lib/ util.py",
           "only dots": "./.", "empty segment": "a//b.py",
           "segment over 255 bytes": "é" * 128, "over 255 characters once NFC": "\u0958/" * 127 + "\u0958"}


@pytest.mark.parametrize("name", REFUSED.values(), ids=REFUSED.keys())
def test_invisible_and_control_characters_are_refused_everywhere(api, client, user, name):
    pid = api.project(f"refused-{abs(hash(name))}")["id"]
    body = problem(api.post("file/create", {"project_id": pid, "filename": name, "content": ""}), 422,
                   "validation_error")
    assert repr(name) in body["errors"]["filename"][0], body
    run = client.post("/codestudio/run", headers=user["headers"],
                      json={"language": "python", "code": "1", "files": [{"name": name, "content": ""}]})
    problem(run, 422, "validation_error")


def test_plain_spaces_and_letters_of_any_script_are_fine(api):
    pid = api.project("fine-names")["id"]
    for name in ("my notes.txt", "données/résumé.md", "日本語/ファイル.py", "Ω.txt"):
        assert api.file(pid, name, "x")["filename"] == name


@pytest.mark.parametrize("files", [
    [{"name": "x/y.py", "content": ""}, {"name": "x/./y.py", "content": ""}],
    [{"name": "a/.", "content": ""}, {"name": "./a/c", "content": ""}],
    [{"name": "café.py", "content": ""}, {"name": DECOMPOSED, "content": ""}],
])
def test_run_files_that_name_one_path_twice_are_422(client, user, files):
    body = problem(client.post("/codestudio/run", json={"language": "python", "code": "1", "files": files},
                               headers=user["headers"]), 422, "validation_error")
    assert "files" in body["errors"]


def test_run_file_spelled_like_the_entry_is_422_naming_it(client, user):
    body = problem(client.post("/codestudio/run", json={"language": "python", "code": "1",
                                                        "files": [{"name": "./main.py", "content": ""}]},
                               headers=user["headers"]), 422, "invalid_file_name")
    assert body["file"] == "main.py" and "entry" in body["detail"]


def test_batch_submission_files_are_checked_alike(client, user):
    payload = {"language": "python", "tests": [{"name": "t", "expected_output": ""}],
               "submissions": [{"id": "s", "code": "1", "files": [{"name": "a", "content": ""},
                                                                   {"name": "a/./b", "content": ""}]}]}
    body = problem(client.post("/codestudio/batch", json=payload, headers=user["headers"]), 422, "invalid_file_name")
    assert body["file"] == "a/b"


def test_a_project_named_in_aliases_runs(api, worker):
    pid = api.project("aliases-run", language="python")["id"]
    api.file(pid, "./main.py", "from lib.util import x\nprint(x)\n")
    api.file(pid, "lib/./util.py", "x = 'normal'\n")
    api.file(pid, "lib/__init__.py/.", "")
    result = api.post("run", {"project_id": pid}).get_json()
    assert (result["status"], result["stdout"]) == ("success", "normal\n"), result
    chosen = api.post("run", {"project_id": pid, "filename": "./lib/util.py"}).get_json()
    assert chosen["status"] == "success", chosen


def _store_rows(app, project_id: str, names: list[str]) -> None:
    """Rows as a release that did not normalise names may have stored them."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import ProjectFile, utcnow

    with app.app_context():
        db.session.execute(sa.insert(ProjectFile), [{"project_id": project_id, "filename": name, "content": "print(1)",
                                                         "size": 8, "created_at": utcnow(), "updated_at": utcnow()}
                                                    for name in names])
        db.session.commit()


def test_stored_aliases_make_a_run_422_not_an_internal_error(app, api):
    pid = api.project("stored-aliases", language="python")["id"]
    _store_rows(app, pid, ["main.py", "lib/x.py", "./lib"])
    body = problem(api.post("run", {"project_id": pid}), 422, "invalid_file_name")
    assert body["file"] == "lib/x.py" and "'./lib'" in body["detail"]


def test_piston_files_in_aliases_are_400_naming_the_file(client, user, worker):
    def execute(files):
        return client.post("/api/v2/execute", json={"language": "python", "version": "*", "files": files},
                           headers={"Authorization": user["key"]})

    for files, named in (([{"name": "main.py", "content": "print(1)"}, {"name": "./main.py", "content": ""}],
                          "'main.py'"),
                         ([{"content": "print(1)"}, {"name": "a/.", "content": ""}, {"name": "./a/c", "content": ""}],
                          "'a/c'")):
        response = execute(files)
        assert response.status_code == 400 and named in response.get_json()["message"], response.get_json()
    response = execute([{"content": "print(1)"}, {"name": "x\u202e.py", "content": ""}])
    assert response.status_code == 400 and "U+202E" in response.get_json()["message"], response.get_json()
    ran = execute([{"name": "./main.py", "content": "print(open('lib/d.txt').read())"},
                   {"name": "lib/./d.txt", "content": "data"}]).get_json()
    assert ran["run"]["stdout"] == "data\n", ran


def _zip(names: list[str]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "x = 1\n")
    return base64.b64encode(buffer.getvalue()).decode()


def test_judge0_additional_files_in_aliases_are_422(client, user):
    def submit(names):
        return client.post("/judge0/submissions", json={"language_id": 71, "source_code": "print(1)",
                                                        "additional_files": _zip(names)},
                           headers={"X-Auth-Token": user["key"]})

    clash = submit(["a", "a/./b"])
    assert clash.status_code == 422 and "'a/b'" in clash.get_json()["additional_files"][0], clash.get_json()
    twice = submit(["x.py", "./x.py"])
    assert twice.status_code == 422 and "'x.py'" in twice.get_json()["additional_files"][0], twice.get_json()
    entry = submit(["./main.py"])
    assert entry.status_code == 422 and entry.get_json()["code"] == "invalid_file_name", entry.get_json()


def test_the_work_dir_refuses_names_it_cannot_place_as_the_requests_error(app, client, user, worker):
    """Defence in depth: clashing names that reach a worker (queued before the APIs refused them)
    end as the run's error, naming the file, never as an internal error or a retry."""
    from app.extensions import db
    from app.models import Execution
    from app.services import runs

    with app.test_request_context():
        execution = Execution(user_id=user["id"], language="python", code="print(1)", stdin=b"", args=[],
                              files=[{"name": "a", "content": ""}, {"name": "a/./b", "content": ""}],
                              timeout=5, memory_mb=128, runs=1)
        db.session.add(execution)
        db.session.commit()
        runs.enqueue(execution)
        execution_id = execution.id
    body, _ = wait_final(client, user, execution_id)
    assert body["status"] == "error" and "cannot be placed" in body["message"], body
    assert "'a/./b'" in body["message"] and "'a'" in body["message"], body
