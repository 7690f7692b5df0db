"""Projects and files: the seed's endpoints, validation, limits, user isolation, runs in a project."""

import pytest
import sqlalchemy as sa

from tests.support.polling import wait_until
from tests.support.project_api import ProjectApi, problem


@pytest.fixture
def api(client, user):
    return ProjectApi(client, user["headers"])


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

    def shows_the_inline_run() -> dict | None:
        detail = api.get(f"project/{pid}").get_json()
        return detail if (detail["last_run"] or {}).get("id") == inline.get_json()["id"] else None

    detail = wait_until(shows_the_inline_run, 10, interval=0.1, what="the project's last run is the inline one")
    assert (detail["last_run"]["id"], detail["last_run"]["status"]) == (inline.get_json()["id"], "success")
    assert detail["last_run"]["at"] is not None


def test_run_without_code_or_language_needs_a_project(api):
    problem(api.post("run", {"language": "python"}), 422, "validation_error")
    problem(api.post("run", {"code": "print(1)"}), 422, "validation_error")
    bare = api.project("no-language")
    api.file(bare["id"], "main.py", "print(1)")
    problem(api.post("run", {"project_id": bare["id"]}), 422, "language_required")


class ContentReads:
    """The SELECTs that fetch file contents, per request (seen by the database driver's hook)."""

    def __init__(self, app):
        from app.extensions import db

        with app.app_context():
            self.engine = db.engine
        self.seen: list[tuple[str, object]] = []

    def _before_execute(self, conn, cursor, statement, parameters, context, executemany):
        columns = statement.upper().partition(" FROM ")[0]
        if columns.lstrip().startswith("SELECT") and "PROJECT_FILES.CONTENT" in columns:
            self.seen.append((statement, parameters))

    def during(self, request) -> list[tuple[str, object]]:
        self.seen = []
        sa.event.listen(self.engine, "before_cursor_execute", self._before_execute)
        try:
            response = request()
        finally:
            sa.event.remove(self.engine, "before_cursor_execute", self._before_execute)
        assert response.status_code < 300, response.get_data(as_text=True)
        return self.seen


def test_file_contents_are_read_only_for_the_file_asked_for(app, api):
    """Listings, details, summaries and writes read metadata only; a read fetches its one file."""
    pid = api.project("heavy")["id"]
    for i in range(6):
        api.file(pid, f"big{i}.txt", "x" * (256 * 1024))
    api.file(pid, "small.txt", "hi")
    reads = ContentReads(app)
    for name, request in {
        "file/list": lambda: api.get("file/list", project_id=pid),
        "project": lambda: api.get(f"project/{pid}"),
        "project/list": lambda: api.get("project/list"),
        "file/create": lambda: api.post("file/create", {"project_id": pid, "filename": "new.txt", "content": "n"}),
        "file/update": lambda: api.post("file/update", {"project_id": pid, "filename": "new.txt", "content": "m"}),
        "file/delete": lambda: api.post("file/delete", {"project_id": pid, "filename": "new.txt"}),
        "stats": lambda: api.get("stats"),
    }.items():
        assert reads.during(request) == [], name
    [(statement, parameters)] = reads.during(lambda: api.get("file/read", project_id=pid, filename="small.txt"))
    assert "PROJECT_FILES.FILENAME = " in statement.upper() and "small.txt" in str(parameters)
    assert api.get("file/read", project_id=pid, filename="small.txt").get_json()["content"] == "hi"
    detail = api.get(f"project/{pid}").get_json()
    assert (detail["file_count"], detail["total_size"]) == (7, 6 * 256 * 1024 + 2)
    summary = next(p for p in api.get("project/list").get_json()["items"] if p["id"] == pid)
    assert (summary["file_count"], summary["total_size"]) == (7, 6 * 256 * 1024 + 2)


def test_file_list_pages_by_name(api):
    pid = api.project("paged")["id"]
    names = ["b.txt", "a.txt", "lib/z.py", "lib/a.py", "c.txt"]
    for name in names:
        api.file(pid, name, name)
    listed, cursor = [], None
    while True:
        page = api.get("file/list", project_id=pid, limit=2, **({"cursor": cursor} if cursor else {})).get_json()
        assert len(page["items"]) <= 2 and all("content" not in item for item in page["items"])
        listed += [item["filename"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert listed == sorted(names)
    whole = api.get("file/list", project_id=pid).get_json()
    assert [f["filename"] for f in whole["items"]] == sorted(names) and whole["next_cursor"] is None
    problem(api.get("file/list", project_id=pid, limit=0), 422, "validation_error")
    problem(api.get("file/list", project_id=pid, limit=1001), 422, "validation_error")
