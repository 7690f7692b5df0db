"""Load: many concurrent clients for a while against a `make run` stack, mixing waited runs, async
runs polled the way a client polls, and a few batches; afterwards every accepted id must reach a
final status with the right output. Prints latency p50/p99 per request kind, throughput and the
count of every status code; exits 1 on any 5xx, dropped connection, lost execution or wrong result.

Clients are spread over a few enterprise users so per-user rate limits do not shape the load;
refusals (429) are counted, and a client honours their Retry-After.

Usage: python -m bench.load [--clients 100] [--seconds 60] [--batches 5] [--users 5]
"""
from __future__ import annotations

import argparse
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import requests

from .run_bench import bench_key, percentile, running_stack

WAITED_SHARE = 0.6  # of the runs; the rest are submitted with wait=false and polled
BATCH_CHANCE = 0.02  # per client turn, while batches are left
RUN_LIMITS = {"timeout": 10, "memory_mb": 256}
SUM = "a, b = map(int, input().split())\nprint(a + b)"
BATCH_TESTS = [{"name": f"t{i}", "stdin": f"{i} {i}\n", "expected_output": f"{2 * i}\n"} for i in range(4)]
BATCH_SUBMISSIONS = 5
FINAL = {"success", "error", "compile_error", "timeout", "memory_limit", "output_limit", "internal_error"}


@dataclass
class Report:
    started: float = field(default_factory=time.monotonic)
    load_seconds: float = 0.0
    finished_at: float = 0.0
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    codes: Counter = field(default_factory=Counter)  # (kind, HTTP status or "connection error")
    expected: dict[str, str] = field(default_factory=dict)  # accepted execution id -> its stdout
    batches: dict[str, str] = field(default_factory=dict)  # accepted batch id -> its owner's key
    server_errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # accepted, then never final (or never recorded)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, status, seconds: float, body: str = "") -> None:
        with self.lock:
            self.codes[(kind, status)] += 1
            self.latency[kind].append(seconds)
            if status == "connection error" or (isinstance(status, int) and status >= 500):
                self.server_errors.append(f"{kind} {status}: {body[:300]}")

    def accept(self, execution_id: str, stdout: str) -> None:
        with self.lock:
            self.expected[execution_id] = stdout

    def check(self, execution_id: str, body: dict) -> None:
        if body["status"] != "success" or body["stdout"] != self.expected[execution_id]:
            with self.lock:
                self.wrong.append(f"{execution_id}: {body['status']} {body.get('stdout')!r} {body.get('message')}")

    @property
    def failed(self) -> bool:
        return bool(self.server_errors or self.wrong or self.lost)


class Client:
    """One simulated client: a session, a key, its own random choices."""

    def __init__(self, base: str, key: str, report: Report, seed: int, batches: list[int]):
        self.base, self.report, self.rng, self.batches = base, report, random.Random(seed), batches
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"
        self.key, self.seed, self.turn = key, seed, 0

    def call(self, kind: str, method: str, path: str, **kwargs) -> requests.Response | None:
        start = time.perf_counter()
        try:
            response = self.session.request(method, self.base + path, timeout=120, **kwargs)
        except requests.RequestException as exc:
            self.report.record(kind, "connection error", time.perf_counter() - start, repr(exc))
            return None
        self.report.record(kind, response.status_code, time.perf_counter() - start, response.text)
        if response.status_code in (429, 503):  # refused: back off as told
            time.sleep(min(2.0, float(response.headers.get("Retry-After", 1))))
        return response

    def run(self, stop_at: float) -> None:
        with self.session:
            while time.monotonic() < stop_at:
                self.turn += 1
                if self.batches and self.rng.random() < BATCH_CHANCE and self._take_batch():
                    self.batch()
                elif self.rng.random() < WAITED_SHARE:
                    self.waited()
                else:
                    self.polled(stop_at)

    def _take_batch(self) -> bool:
        with self.report.lock:
            return bool(self.batches) and self.batches.pop() is not None

    def _program(self) -> tuple[str, str]:
        token = f"{self.seed}-{self.turn}"
        return f"print('load {token}')", f"load {token}\n"

    def waited(self) -> None:
        code, stdout = self._program()
        response = self.call("run (wait)", "POST", "/codestudio/run",
                             json={"language": "python", "code": code, "limits": RUN_LIMITS})
        if response is not None and response.status_code in (200, 202):
            self.report.accept(response.json()["id"], stdout)
            if response.status_code == 200:
                self.report.check(response.json()["id"], response.json())

    def polled(self, stop_at: float) -> None:
        code, stdout = self._program()
        response = self.call("run (async)", "POST", "/codestudio/run",
                             json={"language": "python", "code": code, "limits": RUN_LIMITS, "wait": False})
        if response is None or response.status_code != 202:
            return
        execution_id, pause = response.json()["id"], 0.25
        self.report.accept(execution_id, stdout)
        while time.monotonic() < stop_at:  # what is not final by the end is checked by drain()
            time.sleep(pause)
            pause = min(2.0, pause * 2)
            polled = self.call("poll", "GET", f"/codestudio/executions/{execution_id}")
            if polled is not None and polled.status_code == 200 and polled.json()["status"] in FINAL:
                self.report.check(execution_id, polled.json())
                return

    def batch(self) -> None:
        submissions = [{"id": f"s{i}", "code": f"# {self.seed}-{self.turn}-{i}\n{SUM}"}
                       for i in range(BATCH_SUBMISSIONS)]
        response = self.call("batch", "POST", "/codestudio/batch", json={
            "language": "python", "tests": BATCH_TESTS, "submissions": submissions, "limits": RUN_LIMITS})
        if response is not None and response.status_code == 202:
            with self.report.lock:
                self.report.batches[response.json()["id"]] = self.key


def _get(session: requests.Session, url: str, params: dict) -> requests.Response:
    """A read of the drain, waiting out rate limits (the load may have used the window up)."""
    while (response := session.get(url, params=params, timeout=60)).status_code == 429:
        time.sleep(float(response.headers.get("Retry-After", 1)))
    return response


def _executions(session: requests.Session, base: str, status: str | None) -> dict[str, dict]:
    """The caller's executions (optionally of one status), id -> body, every page."""
    found, cursor = {}, None
    while True:
        params = {"limit": 100, **({"status": status} if status else {}), **({"cursor": cursor} if cursor else {})}
        page = _get(session, f"{base}/codestudio/executions", params)
        page.raise_for_status()
        found.update({row["id"]: row for row in page.json()["items"]})
        cursor = page.json()["next_cursor"]
        if not cursor:
            return found


def _batches_left(sessions: dict[str, requests.Session], base: str, report: Report) -> list[str]:
    left = []
    for batch_id, key in report.batches.items():
        body = _get(sessions[key], f"{base}/codestudio/batch/{batch_id}", {"results": "false"})
        if body.status_code != 200 or body.json()["status"] in ("queued", "running"):
            left.append(batch_id)
    return left


def drain(base: str, keys: list[str], report: Report, seconds: float) -> None:
    """Wait until no accepted execution or batch is queued or running, then check every result."""
    sessions = {key: requests.Session() for key in keys}
    for key, session in sessions.items():
        session.headers["Authorization"] = f"Bearer {key}"
    deadline = time.monotonic() + seconds
    while True:
        active = {execution for s in sessions.values() for status in ("queued", "running")
                  for execution in _executions(s, base, status)}
        waiting = (active & report.expected.keys()) or _batches_left(sessions, base, report)
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    report.finished_at = time.monotonic()
    everything = {i: row for s in sessions.values() for i, row in _executions(s, base, None).items()}
    for execution_id in report.expected:
        row = everything.get(execution_id)
        if row is None or row["status"] not in FINAL:
            report.lost.append(f"{execution_id}: {row['status'] if row else 'never recorded'}")
        else:
            report.check(execution_id, row)
    report.lost += [f"batch {b}: not done" for b in _batches_left(sessions, base, report)]
    report.wrong = sorted(set(report.wrong))


def run_load(base: str, keys: list[str], clients: int, seconds: float, batches: int,
             drain_seconds: float = 300) -> Report:
    report = Report()
    stop_at = report.started + seconds
    slots = list(range(batches))
    threads = [threading.Thread(target=Client(base, keys[n % len(keys)], report, n, slots).run, args=(stop_at,))
               for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report.load_seconds = time.monotonic() - report.started
    drain(base, keys, report, drain_seconds)
    return report


def summary(report: Report, clients: int) -> str:
    requests_made = sum(report.codes.values())
    runs = len(report.expected) + len(report.batches) * BATCH_SUBMISSIONS * len(BATCH_TESTS)
    elapsed = report.finished_at - report.started
    everything = [s for values in report.latency.values() for s in values]
    lines = [f"{clients} clients for {report.load_seconds:.1f} s; everything final {elapsed:.1f} s after the start",
             f"requests: {requests_made} ({requests_made / report.load_seconds:.1f}/s while loading)",
             (f"executions accepted: {len(report.expected)} runs + {len(report.batches)} batches "
              f"({runs} runs in all): {runs / elapsed:.1f} runs/s until the last was final"),
             f"{'latency (ms)':<14}{'count':>7}{'p50':>9}{'p99':>9}{'max':>9}"]
    for kind, values in sorted(report.latency.items()) + [("all requests", everything)]:
        lines.append(f"{kind:<14}{len(values):>7}{percentile(values, 50) * 1000:>9.1f}"
                     f"{percentile(values, 99) * 1000:>9.1f}{max(values) * 1000:>9.1f}")
    by_status = Counter()
    for (_, status), count in report.codes.items():
        by_status[status] += count
    lines.append("status codes: " + ", ".join(f"{s}: {n}" for s, n in sorted(by_status.items(), key=str)))
    lines.append("by kind: " + ", ".join(f"{k} {s}: {n}" for (k, s), n in sorted(report.codes.items(), key=str)))
    lines.append(f"5xx or dropped: {len(report.server_errors)}; lost: {len(report.lost)}; "
                 f"wrong results: {len(report.wrong)}")
    lines += [f"  {line}" for line in (report.server_errors + report.lost + report.wrong)[:20]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--users", type=int, default=5)
    opts = parser.parse_args()
    with running_stack() as (base, instance):
        keys = [bench_key(instance, f"load{n}") for n in range(opts.users)]
        report = run_load(base, keys, opts.clients, opts.seconds, opts.batches)
    print(summary(report, opts.clients))
    raise SystemExit(1 if report.failed else 0)


if __name__ == "__main__":
    main()
