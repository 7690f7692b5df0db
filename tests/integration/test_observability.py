"""Metrics, logs, alert rules and the dashboard, on the stack as deployed: nginx in front of two
gunicorn processes (logging JSON to a file, so the test can read every line) and the session's
Celery workers (prefork, 2 processes each; their log files are their standard error).

Runs a success, an error, a timeout, a live run, a C program, a batch of 6 cases and two refused
requests, then scrapes /metrics
through nginx several times: the counters and histograms moved by exactly what happened, with the
right labels, and every scrape (whichever API process answers) says the same. Log lines are JSON,
the lines about each execution carry its id, user, language and status, and no line carries the
API key or an Authorization value."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.batches import SUM_TESTS, grade
from tests.support.live_client import LiveClient
from tests.support.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "config" / "monitoring"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
PROGRAMS = {"success": "print('ok')", "error": "import sys\nprint('bad', file=sys.stderr)\nsys.exit(3)",
            "timeout": "while True:\n    pass"}

BATCH = [{"id": "right", "code": "a, b = map(int, input().split())\nprint(a + b)"},
         {"id": "wrong", "code": "a, b = map(int, input().split())\nprint(a - b if a > 0 else a + b)"}]
C_PROGRAM = "#include <stdio.h>\nint main(void) { puts(\"ok\"); return 0; }\n"


@pytest.fixture(scope="module")
def observed(app, stack_env, worker, batch_worker, tmp_path_factory):
    """The API as `make run` serves it, with LOG_FORMAT=json and its lines in a file."""
    from app.cli.front import Front, FrontSettings, with_free_port

    state = tmp_path_factory.mktemp("observed-front")
    log = state / "api.log"
    env = {**os.environ, **stack_env, "LOG_FORMAT": "json", "LOG_FILE": str(log)}
    env.pop("ANONYMOUS_REQUESTS_PER_MINUTE", None)
    settings = with_free_port(FrontSettings.from_env({**env, "HOST": "127.0.0.1"}))
    served = Front(settings, state, env).start()
    yield {"front": served, "url": served.url, "log": log, "worker_log": worker["log"],
           "batch_worker_log": batch_worker["log"]}
    served.stop()


def scrape(url: str) -> Samples:
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def fleet_counts(samples: Samples) -> Samples:
    """The counters and histograms (what must be equal across API processes)."""
    return {k: v for k, v in samples.items()
            if k[0].endswith(("_total", "_bucket", "_sum", "_count")) and k[0].startswith("codestudio_")}


def post_run(url: str, user: dict, status: str) -> dict:
    body = {"language": "python", "code": PROGRAMS[status]}
    if status == "timeout":  # the others keep the default limit: a loaded machine starts Python slowly
        body["limits"] = {"timeout": 1}
    response = requests.post(f"{url}/codestudio/run", json=body, headers=user["headers"], timeout=90)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == status, result
    return result


def live_run(observed: dict, user: dict) -> str:
    client = LiveClient(observed["front"], key=user["key"])
    try:
        execution_id = client.start("python", "print('hello', input())")
        # while it waits for its input, the live run is running: the gauge counts it
        wait_until(lambda: value(scrape(observed["url"]), "codestudio_live_runs_running", language="python") == 1,
                   30, interval=0.2, what="the live run counted as running")
        client.send(type="stdin", data="live\n")
        last, _ = client.finish()
        assert "hello live" in client.output()
        assert last["type"] == "exit" and last["result"]["status"] == "success", last
        return execution_id
    finally:
        client.close()


def json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def scraping_pids(log: Path) -> set[int]:
    return {line["process"] for line in json_lines(log)
            if line.get("logger") == "codestudio.http" and line["message"].startswith("GET /metrics")}


def scrapes_from_both_processes(observed: dict, rounds: int = 20) -> list[Samples]:
    """Concurrent scrapes until both gunicorn processes have answered some (nginx and the kernel
    pick the process: an idle one keeps winning sequential requests)."""
    scrapes: list[Samples] = []
    with ThreadPoolExecutor(8) as pool:
        for _ in range(rounds):
            scrapes += pool.map(lambda _: scrape(observed["url"]), range(8))
            if len(scraping_pids(observed["log"])) >= 2:
                return scrapes
    raise AssertionError(f"only {scraping_pids(observed['log'])} answered {len(scrapes)} scrapes")


@pytest.fixture(scope="module")
def traffic(observed, app, batch_worker):
    """What the tests below look at: metrics before and after, the runs, the user."""
    from tests.integration.conftest import _make_user

    url, user = observed["url"], _make_user(app, "pro")
    before = scrape(url)
    results = {status: post_run(url, user, status) for status in PROGRAMS}
    live_id = live_run(observed, user)
    compiled = requests.post(f"{url}/codestudio/run", json={"language": "c", "code": C_PROGRAM},
                             headers=user["headers"], timeout=90)
    assert compiled.status_code == 200 and compiled.json()["status"] == "success", compiled.text
    batch = grade(app.test_client(), user, language="python", tests=SUM_TESTS, submissions=BATCH)
    assert batch["status"] == "done"
    unknown = requests.post(f"{url}/codestudio/run", json={"language": "no-such-language", "code": "x"},
                            headers=user["headers"], timeout=10)
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_language"
    forged = requests.get(f"{url}/codestudio/executions/{results['success']['id']}",
                          headers={"Authorization": "Bearer cs_forgedkeyforgedkeyforgedkey"}, timeout=10)
    assert forged.status_code == 401
    # the live run is recorded before its last frame; its gauge drops once it is final
    wait_until(lambda: value(scrape(url), "codestudio_live_runs_running", language="python") == 0, 15)
    scrapes = scrapes_from_both_processes(observed)
    return {"before": before, "after": scrapes[-1], "scrapes": scrapes, "results": results,
            "live_id": live_id, "batch_id": batch["id"], "user": user, "forged_code": forged.json()["code"]}


def test_counters_and_histograms_moved_by_what_ran(traffic):
    before, after = traffic["before"], traffic["after"]
    for status in ("success", "error", "timeout"):
        expected = 2 if status == "success" else 1  # the live run ended in success too
        assert moved(before, after, "codestudio_executions_total", language="python", status=status) == expected
    assert moved(before, after, "codestudio_executions_total", language="python", status="internal_error") == 0
    for histogram in ("codestudio_queue_wait_seconds", "codestudio_run_seconds", "codestudio_run_memory_bytes"):
        assert moved(before, after, f"{histogram}_count", language="python") == 4, histogram
        assert moved(before, after, f"{histogram}_bucket", language="python", le="+Inf") == 4, histogram
    # the live run's time is its caller's conversation: no sandbox setup time is derived from it
    assert moved(before, after, "codestudio_sandbox_setup_seconds_count", language="python") == 3
    # the timeout ran for its whole second: its wall time falls in a bucket above 0.5 s
    assert moved(before, after, "codestudio_run_seconds_bucket", language="python", le="0.5") <= 3
    assert moved(before, after, "codestudio_run_seconds_sum", language="python") >= 1.0
    memory = moved(before, after, "codestudio_run_memory_bytes_sum", language="python")
    assert 4 * 1024 * 1024 <= memory <= 4 * 512 * 1024 * 1024  # a python interpreter, 4 times
    assert moved(before, after, "codestudio_live_runs_total", language="python") == 1
    assert moved(before, after, "codestudio_compile_seconds_count", language="python") == 0
    assert moved(before, after, "codestudio_compile_seconds_count", language="c") == 1
    assert moved(before, after, "codestudio_compile_seconds_sum", language="c") > 0
    assert moved(before, after, "codestudio_executions_total", language="c", status="success") == 1
    assert moved(before, after, "codestudio_refusals_total", code="unknown_language", status="422") == 1
    assert moved(before, after, "codestudio_refusals_total", code=traffic["forged_code"], status="401") == 1


def test_every_api_process_answers_the_same(traffic, observed):
    first = fleet_counts(traffic["scrapes"][0])
    assert first, "no counters scraped"
    for other in traffic["scrapes"][1:]:
        assert fleet_counts(other) == first
    assert len(scraping_pids(observed["log"])) == 2  # answered by both gunicorn processes


def test_gauges_from_heartbeats_and_worker_reports(traffic, worker, observed):
    after = traffic["after"]
    assert value(after, "codestudio_worker_up", hostname=worker["name"]) == 1
    assert 0 <= value(after, "codestudio_worker_heartbeat_age_seconds", hostname=worker["name"]) <= 15
    assert value(after, "codestudio_live_workers", language="python", kind="interactive") >= 1
    assert value(after, "codestudio_queue_depth", queue="lang.python") == 0
    free = value(after, "codestudio_runs_dir_free_bytes", hostname=worker["name"])
    size = value(after, "codestudio_runs_dir_size_bytes", hostname=worker["name"])
    assert 0 < free <= size
    assert ("codestudio_warm_compilers", (("language", "java"),)) in after
    # the traffic ran Python: its pool processes keep the next run's jail ready (sandbox/ready_jails.py),
    # and report it with their next report (every 5 s)
    wait_until(lambda: value(scrape(observed["url"]), "codestudio_ready_run_jails", language="python") >= 1, 15,
               what="a ready Python run jail reported")
    assert value(after, "codestudio_executions_active", status="running") >= 0


def test_json_log_lines_carry_the_execution(traffic, observed):
    api, work = json_lines(observed["log"]), json_lines(observed["worker_log"])
    assert api and work
    user_id = traffic["user"]["id"]
    ids = {status: result["id"] for status, result in traffic["results"].items()} | {"success-live": traffic["live_id"]}
    for status, execution_id in ids.items():
        final = status.removesuffix("-live")
        accepted = [line for line in api if line.get("execution_id") == execution_id]
        assert any(line["message"] == "execution accepted" for line in accepted), accepted
        for line in accepted:
            assert (line["user_id"], line["language"]) == (user_id, "python"), line
            expected = ("queued",) if line["message"] == "execution accepted" else ("queued", "running", final)
            assert line["status"] in expected, line
        about = [line for line in work if line.get("execution_id") == execution_id]
        assert {line["message"] for line in about} >= {"execution claimed", "execution finished"}, about
        for line in about:
            assert (line["user_id"], line["language"]) == (user_id, "python"), line
            assert line["status"] in ("running", final), line
            if line["message"] in ("execution claimed", "execution finished"):
                assert line["status"] == ("running" if line["message"] == "execution claimed" else final), line
    # a waited run's request line carries the execution it created, and the status it ended with
    posted = {line.get("execution_id"): line for line in api if line["message"] == "POST /codestudio/run 200"}
    for status, result in traffic["results"].items():
        line = posted[result["id"]]
        assert (line["user_id"], line["language"], line["status"]) == (user_id, "python", status), line


def test_batch_cases_are_counted_by_verdict(traffic, batch_worker):
    before, after, batch_id, user = traffic["before"], traffic["after"], traffic["batch_id"], traffic["user"]
    assert moved(before, after, "codestudio_batch_cases_total", language="python", verdict="accepted") == 4
    assert moved(before, after, "codestudio_batch_cases_total", language="python", verdict="wrong_answer") == 2
    lines = [line for line in json_lines(batch_worker["log"]) if line.get("batch_id") == batch_id]
    assert len([line for line in lines if line["message"] == "batch case finished"]) == 6, lines
    assert all(line["user_id"] == user["id"] and line["language"] == "python" for line in lines), lines
    assert user["key"] not in batch_worker["log"].read_text()


def test_api_log_is_one_json_object_per_line(traffic, observed):
    lines = observed["log"].read_text().splitlines()
    assert lines
    for line in lines:
        parsed = json.loads(line)
        assert {"ts", "level", "logger", "message"} <= parsed.keys()


def test_no_credential_in_any_log(traffic, observed):
    for path in (observed["log"], observed["worker_log"], observed["batch_worker_log"]):
        text = path.read_text()
        assert traffic["user"]["key"] not in text
        assert "Bearer" not in text
        assert "cs_forgedkey" not in text


def expressions() -> list[tuple[str, str]]:
    """(where, PromQL) of every alert rule and dashboard target."""
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    found = [(f"alert {rule['alert']}", rule["expr"]) for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    found += [(f"panel {panel['title']!r}", target["expr"]) for panel in dashboard["panels"]
              for target in panel["targets"]]
    return found


def test_alerts_and_dashboard_name_served_metrics(traffic):
    served = {name for name, _ in traffic["after"]}
    found = expressions()
    assert len([w for w, _ in found if w.startswith("alert")]) >= 8
    assert len([w for w, _ in found if w.startswith("panel")]) >= 15
    for where, expr in found:
        names = set(re.findall(r"\bcodestudio_[a-z_]+", expr))
        assert names, f"{where}: no codestudio metric in {expr!r}"
        assert names <= served, f"{where}: not served: {sorted(names - served)}"


def promtool(*args: str) -> subprocess.CompletedProcess:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: apt-get install prometheus (Debian's package has it)")
    return subprocess.run([found, *args], cwd=MONITORING, capture_output=True, text=True, timeout=60)


def test_promtool_accepts_the_rules():
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 10 rules found" in checked.stdout


def test_alerts_fire_on_made_up_series():
    """config/monitoring/alerts_test.yml: no worker for queued java work (and none for python,
    which has one), an internal_error share, one language's memory limits, one host's disk."""
    tested = promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
