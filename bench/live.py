"""Live runs: how many concurrent WebSocket conversations one API process holds, and what they cost.

Starts `make run`'s stack on a fresh instance with ONE API process (API_WORKERS=1) and enough
worker processes for the largest level, then for each level N: N callers each open a live run of
an echo program and, for --seconds, send a line every --interval seconds and wait for it to come
back. Prints, per level, the echo round trip (stdin frame -> the program -> its stdout frame) p50
and p99, and the largest level whose p99 is within --p99-ms. Also: time to the first output byte
of a live run against a waited REST run (p50 of --first-runs each).

Usage: python -m bench.live [--levels 8,16,32,64] [--seconds 20] [--interval 0.2] [--tty]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import requests
import websocket

from .run_bench import ROOT, _wait_ready, bench_key, free_port, percentile

ECHO = """import os
print("ready", flush=True)
while data := os.read(0, 65536):
    os.write(1, data)
"""
FIRST = "print('first', flush=True)"


def start_stack(instance: Path, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "CODESTUDIO_INSTANCE": str(instance), "PORT": str(port), "HOST": "127.0.0.1",
           "API_WORKERS": "1", "LIVE_CONNECTIONS": str(workers + 8), "LIVE_IDLE_SECONDS": "120",
           "FRONT_CONNECTIONS_PER_KEY": str(4 * workers),
           "SANDBOX_TOTAL_PIDS": str(max(1024, 128 * workers))}  # the fleet cap: every run at once
    for name in ("REDIS_URL", "DATABASE_URL"):
        env.pop(name, None)
    log = open(instance / "stack.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("codestudio")), "stack", "--workers", str(workers)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(port, instance)
    except BaseException:
        proc.terminate()
        proc.wait(timeout=60)
        raise
    return proc


class Conversation:
    def __init__(self, url: str, key: str, tty: bool):
        self.ws = websocket.create_connection(url, header=[f"Authorization: Bearer {key}"], timeout=60)
        self.ws.send(json.dumps({"type": "start", "language": "python", "code": ECHO, "tty": tty,
                                 "limits": {"timeout": 120}}))
        self.text = ""
        self.until("ready\n" if not tty else "ready\r\n")

    def until(self, text: str) -> None:
        while text not in self.text:
            frame = json.loads(self.ws.recv())
            if frame["type"] in ("exit", "error"):
                raise RuntimeError(f"the run ended: {frame}")
            if frame["type"] in ("stdout", "output"):
                self.text += frame["data"]
        self.text = self.text[self.text.index(text) + len(text):]

    def echo(self, line: str) -> float:
        sent = time.perf_counter()
        self.ws.send(json.dumps({"type": "stdin", "data": line + "\n"}))
        self.until(line)
        return time.perf_counter() - sent

    def close(self) -> None:
        self.ws.send(json.dumps({"type": "eof"}))
        self.ws.close()


def level(url: str, keys: list[str], count: int, seconds: float, interval: float, tty: bool) -> list[float]:
    trips: list[float] = []
    lock = threading.Lock()
    ready = threading.Barrier(count, timeout=300)

    def converse(index: int) -> None:
        try:
            conversation = Conversation(url, keys[index % len(keys)], tty)
        except Exception as exc:
            ready.abort()
            raise RuntimeError(f"caller {index} could not start: {exc}") from exc
        ready.wait()
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            took = conversation.echo(f"caller {index} line {n}")
            with lock:
                trips.append(took)
            n += 1
            time.sleep(max(0.0, interval - took))
        conversation.close()

    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(converse, index) for index in range(count)]
    failures = [future.exception() for future in futures if future.exception() is not None]
    first = next((f for f in failures if not isinstance(f, threading.BrokenBarrierError)), None)
    if failures:
        raise RuntimeError(f"{len(failures)} of {count} callers failed; first: {first or failures[0]}")
    return trips


def first_output(base: str, url: str, key: str, runs: int) -> tuple[float, float]:
    """p50 seconds to the first output frame of a live run, and of a waited REST run's answer."""
    live, rest = [], []
    for _ in range(runs):
        started = time.perf_counter()
        ws = websocket.create_connection(url, header=[f"Authorization: Bearer {key}"], timeout=60)
        ws.send(json.dumps({"type": "start", "language": "python", "code": FIRST}))
        while json.loads(ws.recv())["type"] != "stdout":
            pass
        live.append(time.perf_counter() - started)
        ws.close()
        started = time.perf_counter()
        response = requests.post(f"{base}/codestudio/run", json={"language": "python", "code": FIRST},
                                 headers={"Authorization": f"Bearer {key}"}, timeout=60)
        assert response.json()["stdout"] == "first\n", response.text
        rest.append(time.perf_counter() - started)
    return percentile(live, 50), percentile(rest, 50)


def api_process(stack: subprocess.Popen) -> psutil.Process:
    """The one gunicorn worker (API_WORKERS=1) under the stack's gunicorn master."""
    for child in psutil.Process(stack.pid).children(recursive=True):
        parent = child.parent()
        if "gunicorn" in " ".join(child.cmdline()) and parent is not None and "gunicorn" in " ".join(parent.cmdline()):
            return child
    raise SystemExit("no gunicorn worker found under the stack")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="8,16,32,64")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between one caller's lines")
    parser.add_argument("--p99-ms", type=float, default=50)
    parser.add_argument("--first-runs", type=int, default=20)
    parser.add_argument("--tty", action="store_true")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    root = Path(tempfile.mkdtemp(prefix="cs-bench-live-"))
    root.chmod(0o711)
    os.environ["SANDBOX_RUNS_DIR"] = str(root / "runs")
    (root / "instance").mkdir()
    port = free_port()
    stack = start_stack(root / "instance", port, max(levels))
    try:
        base, url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/codestudio/live"
        keys = [bench_key(root / "instance", f"live{n}") for n in range(max(1, max(levels) // 48 + 1))]
        live_first, rest_first = first_output(base, url, keys[0], args.first_runs)
        print(f"first output byte: live p50 {live_first * 1e3:.1f} ms; waited REST run p50 {rest_first * 1e3:.1f} ms")
        held = 0
        api = api_process(stack)
        for count in levels:
            time.sleep(3)  # the last level's connections are let go (each within a second or so)
            cpu_before, wall_before = sum(api.cpu_times()[:2]), time.monotonic()
            trips = level(url, keys, count, args.seconds, args.interval, args.tty)
            api_cpu = (sum(api.cpu_times()[:2]) - cpu_before) / (time.monotonic() - wall_before)
            p50, p99 = percentile(trips, 50), percentile(trips, 99)
            print(f"{count:4d} concurrent live runs ({'terminal' if args.tty else 'pipes'}): {len(trips)} echoes, "
                  f"p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms; the API process used "
                  f"{api_cpu * 100:.0f}% of a core", flush=True)
            if p99 * 1e3 <= args.p99_ms:
                held = count
        print(f"one API process holds {held} concurrent live runs with echo p99 <= {args.p99_ms:.0f} ms "
              f"(of the levels tried)")
    finally:
        stack.terminate()
        stack.wait(timeout=120)


if __name__ == "__main__":
    main()
