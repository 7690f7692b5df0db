"""Projects and files: the seed's endpoints, validation, limits, user isolation, runs in a project."""
import time

import pytest


def problem(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json" and response.get_json()["code"] == code
    return response.get_json()


@pytest.fixture
def api(client, user):
    class Api:
        headers = user["headers"]

        def post(self, path, body, headers=None):
            return client.post(f"/codestudio/{path}", json=body, headers=headers or self.headers)

        def get(self, path, headers=None, **query):
            return client.get(f"/codestudio/{path}", query_string=query, headers=headers or self.headers)

        def delete(self, path, headers=None):
            return client.delete(f"/codestudio/{path}", headers=headers or self.headers)

        def project(self, name="demo", **fields):
            response = self.post("project/create", {"name": name, **fields})
            assert response.status_code == 201, response.get_json()
            return response.get_json()

        def file(self, project_id, filename, content):
            response = self.post("file/create", {"project_id": project_id, "filename": filename, "content": content})
            assert response.status_code == 201, response.get_json()
            return response.get_json()

    return Api()


def test_project_lifecycle_and_metadata(api):
    project = api.project("lifecycle", language="py", description="a demo")
    assert project["language"] == "python" and project["file_count"] == 0 and project["total_size"] == 0
    api.file(project["id"], "main.py", "print('hi')\n")
    api.file(project["id"], "lib/util.py", "X = 1\n")
    detail = api.get(f"project/{project['id']}").get_json()
    assert detail["file_count"] == 2 and detail["total_size"] == len("print('hi')\n") + len("X = 1\n")
    assert [f["filename"] for f in detail["files"]] == ["lib/util.py", "main.py"]
    assert detail["updated_at"] >= project["updated_at"]
    assert project["id"] in [p["id"] for p in api.get("project/list").get_json()["items"]]
    assert api.delete(f"project/{project['id']}").get_json() == {"deleted": project["id"]}
    problem(api.get(f"project/{project['id']}"), 404, "project_not_found")


def test_duplicate_project_name_is_409_and_unknown_language_422(api):
    api.project("twice")
    problem(api.post("project/create", {"name": "twice"}), 409, "project_exists")
    problem(api.post("project/create", {"name": "odd", "language": "cobol-2099"}), 422, "unknown_language")
    problem(api.post("project/create", {"name": ""}), 422, "validation_error")


def test_file_crud(api):
    pid = api.project("files")["id"]
    created = api.file(pid, "notes/readme.txt", "hello ✓")
    assert (created["filename"], created["size"], created["content"]) == ("notes/readme.txt", len("hello ✓".encode()),
                                                                         "hello ✓")
    problem(api.post("file/create", {"project_id": pid, "filename": "notes/readme.txt", "content": ""}), 409,
            "file_exists")
    read = api.get("file/read", project_id=pid, filename="notes/readme.txt").get_json()
    assert read["content"] == "hello ✓"
    updated = api.post("file/update", {"project_id": pid, "filename": "notes/readme.txt", "content": "v2"})
    assert updated.get_json()["content"] == "v2" and updated.get_json()["size"] == 2
    problem(api.post("file/update", {"project_id": pid, "filename": "missing.txt", "content": ""}), 404,
            "file_not_found")
    assert [f["filename"] for f in api.get("file/list", project_id=pid).get_json()["items"]] == ["notes/readme.txt"]
    assert api.post("file/delete", {"project_id": pid, "filename": "notes/readme.txt"}).get_json() == {
        "deleted": "notes/readme.txt"}
    problem(api.get("file/read", project_id=pid, filename="notes/readme.txt"), 404, "file_not_found")
    problem(api.post("file/delete", {"project_id": pid, "filename": "notes/readme.txt"}), 404, "file_not_found")


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", "a/../../b", "tab\there", "nul\x00", "x" * 300, "",
                                  "dir/"])
def test_bad_file_names_are_422(api, name):
    pid = api.project(f"names-{abs(hash(name))}")["id"]
    problem(api.post("file/create", {"project_id": pid, "filename": name, "content": ""}), 422, "validation_error")


def test_file_and_directory_clash_is_422(api):
    pid = api.project("clash")["id"]
    api.file(pid, "lib", "")
    problem(api.post("file/create", {"project_id": pid, "filename": "lib/x.py", "content": ""}), 422,
            "invalid_file_name")


def test_tier_file_limits(client, make_user):
    free = make_user("free")
    headers = free["headers"]
    pid = client.post("/codestudio/project/create", json={"name": "limits"}, headers=headers).get_json()["id"]
    big = client.post("/codestudio/file/create", json={"project_id": pid, "filename": "big.txt",
                                                       "content": "x" * (256 * 1024 + 1)}, headers=headers)
    body = problem(big, 413, "file_too_large")
    assert (body["limit"], body["tier"]) == ("max_file_kb", "free")
    for i in range(20):
        assert client.post("/codestudio/file/create", json={"project_id": pid, "filename": f"f{i}.txt", "content": ""},
                           headers=headers).status_code == 201
    body = problem(client.post("/codestudio/file/create", json={"project_id": pid, "filename": "one-more.txt",
                                                                "content": ""}, headers=headers), 422, "too_many_files")
    assert body["maximum"] == 20


def test_another_users_projects_and_files_are_404_everywhere(api, make_user):
    pid = api.project("private")["id"]
    api.file(pid, "secret.py", "print('mine')")
    other = make_user()["headers"]
    problem(api.get(f"project/{pid}", headers=other), 404, "project_not_found")
    problem(api.delete(f"project/{pid}", headers=other), 404, "project_not_found")
    problem(api.get("file/list", headers=other, project_id=pid), 404, "project_not_found")
    problem(api.get("file/read", headers=other, project_id=pid, filename="secret.py"), 404, "project_not_found")
    for path, body in (("file/create", {"filename": "x.py", "content": ""}),
                       ("file/update", {"filename": "secret.py", "content": "stolen"}),
                       ("file/delete", {"filename": "secret.py"}),
                       ("run", {"language": "python"})):
        problem(api.post(path, {"project_id": pid, **body}, headers=other), 404, "project_not_found")
    assert pid not in [p["id"] for p in api.get("project/list", headers=other).get_json()["items"]]
    assert api.get("file/read", project_id=pid, filename="secret.py").get_json()["content"] == "print('mine')"


def test_runs_inside_a_project(api, worker):
    project = api.project("runnable", language="python")
    pid = project["id"]
    api.file(pid, "main.py", "from lib.greet import hello\nprint(hello())\n")
    api.file(pid, "lib/__init__.py", "")
    api.file(pid, "lib/greet.py", "def hello():\n    return 'hello from the project'\n")
    api.file(pid, "tool.py", "import sys\nprint('tool', sys.argv[1:])\n")
    default = api.post("run", {"project_id": pid}).get_json()
    assert (default["status"], default["stdout"]) == ("success", "hello from the project\n"), default
    chosen = api.post("run", {"project_id": pid, "filename": "tool.py", "args": ["x"]}).get_json()
    assert chosen["stdout"] == "tool ['x']\n", chosen
    inline = api.post("run", {"project_id": pid, "code": "from lib.greet import hello\nprint(hello().upper())"})
    assert inline.get_json()["stdout"] == "HELLO FROM THE PROJECT\n"
    problem(api.post("run", {"project_id": pid, "filename": "nope.py"}), 422, "entry_not_found")
    deadline = time.monotonic() + 10
    while True:
        detail = api.get(f"project/{pid}").get_json()
        if (detail["last_run"] or {}).get("id") == inline.get_json()["id"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert (detail["last_run"]["id"], detail["last_run"]["status"]) == (inline.get_json()["id"], "success")
    assert detail["last_run"]["at"] is not None


def test_run_without_code_or_language_needs_a_project(api):
    problem(api.post("run", {"language": "python"}), 422, "validation_error")
    problem(api.post("run", {"code": "print(1)"}), 422, "validation_error")
    bare = api.project("no-language")
    api.file(bare["id"], "main.py", "print(1)")
    problem(api.post("run", {"project_id": bare["id"]}), 422, "language_required")
