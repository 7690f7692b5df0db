"""Languages served by several toolchains (CPython and PyPy; Node, Deno and Bun): the native run's
`version`, Piston's version selector and `/runtimes`, and `GET /codestudio/languages` choose and
show them; asking for none keeps the base."""
from __future__ import annotations

import pytest

from tests.support.languages import installed

# prints which toolchain runs it
WHICH = {
    "javascript": 'console.log(typeof Deno !== "undefined" ? "deno" : typeof Bun !== "undefined" ? "bun" : "node")',
    "python": "import platform\nprint(platform.python_implementation().lower())",
    "typescript": 'console.log(typeof (globalThis as any).Deno !== "undefined" ? "deno" : "node")',
}
RUNTIMES = {"javascript": "node", "deno": "deno", "bun": "bun", "python": "cpython", "pypy": "pypy",
            "typescript": "node", "deno_ts": "deno"}  # what WHICH prints
BASE = {"javascript": "javascript", "deno": "javascript", "bun": "javascript", "python": "python", "pypy": "python",
        "typescript": "typescript", "deno_ts": "typescript"}


@pytest.fixture
def listed(client, worker) -> dict[str, dict]:
    return {lang["id"]: lang for lang in client.get("/codestudio/languages").get_json()}


def major_range(version: str) -> str:
    return version.split(".")[0] + ".x"


def test_languages_list_variants_and_their_base(listed):
    assert {"deno", "bun"} <= set(listed["javascript"]["variants"]) and listed["python"]["variants"] == ["pypy"]
    assert listed["typescript"]["variants"] == ["deno_ts"]
    for base in ("javascript", "python", "typescript", "c"):
        assert listed[base]["variant_of"] is None, listed[base]
    for variant, base in (("deno", "javascript"), ("bun", "javascript"), ("pypy", "python"), ("deno_ts", "typescript")):
        assert (listed[variant]["variant_of"], listed[variant]["variants"]) == (base, []), listed[variant]
        assert listed[variant]["runtime"] == RUNTIMES[variant]
    assert listed["c"]["variants"] == [] and listed["javascript"]["runtime"] == "node"


@pytest.mark.parametrize("language, version, expected", [
    ("javascript", "deno", "deno"), ("js", "bun", "bun"), ("javascript", "node", "javascript"),
    ("python", "pypy", "pypy"), ("py", "cpython", "python"), ("deno", "javascript", "javascript"),
    ("javascript", "deno-js", "deno"), ("typescript", "deno", "deno_ts"), ("ts", "deno-ts", "deno_ts"),
    ("deno", "node", "javascript"),
])
def test_a_run_chooses_a_toolchain_by_name(run, language, version, expected):
    installed(expected)
    body = run(language, WHICH[BASE[expected]], version=version)
    assert (body["status"], body["language"], body["stdout"]) == ("success", expected, RUNTIMES[expected] + "\n"), body


@pytest.mark.parametrize("expected", ["javascript", "deno", "bun", "python", "pypy", "deno_ts"])
def test_a_run_chooses_a_toolchain_by_version_range(run, listed, expected):
    installed(expected)
    family = [lang for lang in listed.values() if BASE.get(lang["id"]) == BASE[expected] and lang["available"]]
    selector = major_range(listed[expected]["version"])
    if sum(major_range(lang["version"]) == selector for lang in family) > 1:
        selector = listed[expected]["version"]  # two toolchains share the major: the exact version
    body = run(BASE[expected], WHICH[BASE[expected]], version=selector)
    assert (body["language"], body["stdout"]) == (expected, RUNTIMES[expected] + "\n"), body


def test_without_a_version_the_base_runs(run):
    body = run("javascript", WHICH["javascript"])
    assert (body["language"], body["stdout"]) == ("javascript", "node\n"), body
    assert run("python", WHICH["python"])["stdout"] == "cpython\n"


@pytest.mark.parametrize("language, version", [("javascript", "klingon"), ("python", "99.x"), ("c", "pypy"),
                                               ("python", "deno")])
def test_a_version_nothing_matches_is_a_422(client, user, worker, language, version):
    response = client.post("/codestudio/run", json={"language": language, "code": "1", "version": version},
                           headers=user["headers"])
    assert response.status_code == 422 and response.mimetype == "application/problem+json", response.get_data()
    problem = response.get_json()
    assert (problem["code"], problem["version"]) == ("unknown_version", version), problem


def execute(client, user, language: str, version: str, code: str) -> dict:
    body = {"language": language, "version": version, "files": [{"content": code}]}
    response = client.post("/api/v2/execute", json=body, headers={"Authorization": user["key"]})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_piston_runtimes_list_each_toolchain_under_the_language(client, worker, listed):
    runtimes = client.get("/api/v2/runtimes").get_json()
    by_runtime = {(r["language"], r.get("runtime")): r for r in runtimes}
    expected = {"javascript": ("javascript", "node", {"js", "node"}),
                "deno": ("javascript", "deno", {"deno", "deno-js"}), "bun": ("javascript", "bun", {"bun"}),
                "python": ("python", "cpython", {"py"}),
                "pypy": ("python", "pypy", {"pypy", "pypy3"}),
                "deno_ts": ("typescript", "deno", {"deno_ts", "deno-ts"})}
    for lang_id, (name, runtime, aliases) in expected.items():
        if not listed[lang_id]["available"]:
            continue
        entry = by_runtime[(name, runtime)]
        assert aliases <= set(entry["aliases"]) and entry["version"] == listed[lang_id]["version"], entry


@pytest.mark.parametrize("expected", ["deno", "bun", "pypy", "deno_ts"])
def test_piston_version_selector_chooses_among_a_languages_runtimes(client, user, listed, expected):
    installed(expected)
    name, version = BASE[expected], listed[expected]["version"]
    body = execute(client, user, name, version, WHICH[name])
    assert (body["language"], body["version"], body["run"]["stdout"]) == (name, version, RUNTIMES[expected] + "\n")
    body = execute(client, user, name, "*", WHICH[name])  # any version: the base, as before
    assert body["version"] == listed[name]["version"], body
    body = execute(client, user, expected, "*", WHICH[name])  # the runtime's alias: that runtime only
    assert (body["language"], body["run"]["stdout"]) == (name, RUNTIMES[expected] + "\n"), body


def test_piston_javascript_major_ranges(client, user, listed):
    for expected in ("deno", "bun"):
        installed(expected)
    order = ("javascript", "deno", "bun")  # the base first, then its variants: a range two match picks the first
    for expected in order:
        wanted = major_range(listed[expected]["version"])
        chosen = next(i for i in order if major_range(listed[i]["version"]) == wanted)
        body = execute(client, user, "javascript", wanted, WHICH["javascript"])
        assert body["run"]["stdout"] == RUNTIMES[chosen] + "\n", body
