"""Benchmark: the full path (HTTP -> queue -> worker -> nsjail -> DB) against the
sandbox runner called directly, measured in the same run on the same machine.

(a) latency: p50/p95 of POST /codestudio/run (wait) for print(1), vs Runner.run()
(b) throughput: 200 runs through 2 worker processes, vs 2 processes calling Runner.run()

Usage: python -m bench.run_bench [--runs 100] [--throughput-runs 200]
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = "print(1)"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def _direct_runner():
    from sandbox import Runner

    runner = Runner()
    runner.prepare()
    return runner


def _direct_paced(runs: int, gap: float) -> list[float]:
    """The direct runner with idle gaps, as runs arrive through a service."""
    times = []
    for _ in range(runs):
        time.sleep(gap)
        times.append(_direct_once())
    return times


def _direct_once(_=None) -> float:
    from sandbox import RunSpec, registry

    global _RUNNER
    if "_RUNNER" not in globals():
        _RUNNER = _direct_runner()
    start = time.perf_counter()
    result = _RUNNER.run(RunSpec(language=registry().get("python"), code=PROGRAM, timeout=10, memory_mb=256))
    assert result.status == "success", result
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_stack(instance: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "CODESTUDIO_INSTANCE": str(instance), "PORT": str(port), "HOST": "127.0.0.1",
           "SANDBOX_RUNS_DIR": os.environ["SANDBOX_RUNS_DIR"]}
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    log = open(instance / "stack.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("codestudio")), "stack", "--workers", "2",
                             "--pool", os.environ.get("BENCH_POOL", "prefork")],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(port, instance)
    except BaseException:  # never leave a half-started stack behind
        proc.terminate()
        proc.wait(timeout=60)
        raise
    return proc


def _wait_ready(port: int, instance: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            langs = requests.get(f"http://127.0.0.1:{port}/codestudio/languages", timeout=5).json()
            if any(lang["id"] == "python" and lang["available"] for lang in langs):
                return
        except (requests.RequestException, ValueError):  # still starting
            pass
        time.sleep(0.3)
    raise SystemExit(f"stack did not become ready; see {instance / 'stack.log'}")


def bench_key(instance: Path, name: str = "bench") -> str:
    """An enterprise user, so rate limits and quotas do not shape the measurement."""
    env = {**os.environ, "CODESTUDIO_INSTANCE": str(instance), "REDIS_URL": f"unix://{instance / 'redis.sock'}"}
    out = subprocess.run([str(Path(sys.executable).with_name("codestudio")), "users", "create",
                          f"{name}-{os.getpid()}@localhost", "--tier", "enterprise"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


@contextmanager
def running_stack():
    """`make run`'s stack on a fresh instance and free port; yields (base URL, instance folder)."""
    root = Path(tempfile.mkdtemp(prefix="cs-bench-"))
    root.chmod(0o711)  # the jail binds from below it
    os.environ["SANDBOX_RUNS_DIR"] = str(root / "runs")
    (root / "instance").mkdir()
    port = free_port()
    stack = start_stack(root / "instance", port)
    try:
        yield f"http://127.0.0.1:{port}", root / "instance"
    finally:
        stack.terminate()
        stack.wait(timeout=60)


def _busy_fraction(seconds: float) -> float:
    def sample() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            ticks = [int(v) for v in fh.readline().split()[1:]]
        return sum(ticks), ticks[3] + ticks[4]  # total, idle + iowait

    total, idle = sample()
    time.sleep(seconds)
    total2, idle2 = sample()
    return 1 - (idle2 - idle) / max(1, total2 - total)


def wait_until_quiet(limit_seconds: float = 90, busy_below: float = 0.1) -> float:
    """A service in steady state: wait for start-up work (workers warming compilers) to settle."""
    start = time.monotonic()
    while _busy_fraction(1.0) >= busy_below and time.monotonic() - start < limit_seconds:
        pass
    return time.monotonic() - start


@contextmanager
def bench_stack():
    """`make run`'s stack on a fresh instance and free port, once its start-up work has settled;
    yields (base URL, enterprise key)."""
    with running_stack() as (base, instance):
        key = bench_key(instance)
        print(f"(stack settled {wait_until_quiet():.0f} s after start)", flush=True)
        yield base, key


def api_once(session: requests.Session, url: str, key: str) -> float:
    start = time.perf_counter()
    response = session.post(url, json={"language": "python", "code": PROGRAM, "limits": {"timeout": 10,
                                       "memory_mb": 256}}, headers={"Authorization": f"Bearer {key}"})
    elapsed = time.perf_counter() - start
    assert response.status_code == 200 and response.json()["status"] == "success", response.text
    return elapsed


def throughput_api(url: str, key: str, runs: int, clients: int) -> float:
    def worker(n):
        with requests.Session() as session:
            for _ in range(n):
                api_once(session, url, key)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, [runs // clients] * clients))
    return runs / (time.perf_counter() - start)


def throughput_direct(runs: int, processes: int, once: Callable[[int], float] | None = None) -> float:
    """Runs per second of `processes` processes each doing `once` (default: Runner.run()) back to back."""
    start = time.perf_counter()
    with ProcessPoolExecutor(processes) as pool:
        list(pool.map(once or _direct_once, range(runs), chunksize=4))
    return runs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--throughput-runs", type=int, default=200)
    opts = parser.parse_args()
    with bench_stack() as (base, key):
        url = f"{base}/codestudio/run"
        session = requests.Session()
        for _ in range(5):  # warm-up both paths
            api_once(session, url, key)
            _direct_once()
        direct, api = [], []
        for _ in range(opts.runs):  # interleaved so both see the same machine state
            direct.append(_direct_once())
            api.append(api_once(session, url, key))
        paced = _direct_paced(opts.runs, 0.025)
        tp_direct = throughput_direct(opts.throughput_runs, 2)
        tp_api = throughput_api(url, key, opts.throughput_runs, 8)
    d50, d95, a50, a95 = (percentile(direct, 50), percentile(direct, 95), percentile(api, 50), percentile(api, 95))
    print(f"(a) latency, print(1), {opts.runs} runs each")
    for label, values, p50, p95 in (("direct runner", direct, d50, d95), ("API (wait)   ", api, a50, a95)):
        print(f"    {label} : p50 {p50 * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   "
              f"mean {statistics.mean(values) * 1000:.1f} ms")
    print(f"    ratio API/direct: p50 {a50 / d50:.2f}x  p95 {a95 / d95:.2f}x   (goal <= 1.3x)")
    p50, p95 = percentile(paced, 50), percentile(paced, 95)
    print(f"    direct runner, 25 ms idle between runs: p50 {p50 * 1000:.1f} ms  p95 {p95 * 1000:.1f} ms "
          f"(API/paced p50 {a50 / p50:.2f}x)")
    print(f"(b) throughput, {opts.throughput_runs} runs, 2 worker processes")
    print(f"    direct runner (2 processes): {tp_direct:6.1f} runs/s")
    print(f"    API + 2 workers            : {tp_api:6.1f} runs/s")
    print(f"    ratio API/direct: {tp_api / tp_direct:.2f}x   (goal >= 0.8x)")


if __name__ == "__main__":
    main()
