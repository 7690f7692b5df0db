"""Benchmark: batch grading through the service against the same runs done directly with the
sandbox runner, measured in the same run on the same machine (2 worker processes each).

  python:  100 submissions x 10 tests
  java:     20 submissions x 10 tests (and how many compiles ran)

Baselines: (1) Runner.run() per run, compiling every time (what a service without batches does);
(2) the runner's own compile-once path: one compile per submission, then every test.

Usage: python -m bench.batch [--python 100] [--java 20] [--tests 10]
"""
from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import requests

from .run_bench import bench_stack

PROGRAMS = {
    "python": "a, b = map(int, input().split())\nprint(a + b)",
    "java": ("import java.util.*;\npublic class Main { public static void main(String[] x) {\n"
             "  Scanner in = new Scanner(System.in); long a = in.nextLong(), b = in.nextLong();\n"
             "  System.out.println(a + b); } }"),
}
PROCESSES = 2


def tests(count: int) -> list[dict]:
    return [{"name": f"t{i}", "stdin": f"{i} {i * 7}\n", "expected_output": f"{i * 8}\n"} for i in range(count)]


def submissions(lang: str, count: int) -> list[dict]:
    # each submission differs (a comment), as real ones do: nothing may be cached across them
    comment = "#" if lang == "python" else "//"
    return [{"id": f"s{i}", "code": f"{comment} submission {i}\n{PROGRAMS[lang]}"} for i in range(count)]


def _spec(lang: str, code: str = "", stdin: bytes = b""):
    from sandbox import RunSpec, registry

    return RunSpec(language=registry().get(lang), code=code, stdin=stdin, timeout=5, memory_mb=256)


_RUNNER = None


def _runner():
    global _RUNNER
    if _RUNNER is None:
        from sandbox import Runner

        _RUNNER = Runner()
        _RUNNER.prepare()
    return _RUNNER


def _direct_each(job: tuple[str, str, str]) -> None:
    lang, code, stdin = job
    result = _runner().run(_spec(lang, code, stdin.encode()))
    assert result.status == "success", result


def _direct_compile_once(job: tuple[str, str, list[str]]) -> None:
    lang, code, stdins = job
    program = _runner().compile(_spec(lang, code))
    for stdin in stdins:
        assert _runner().run_compiled(program, _spec(lang, stdin=stdin.encode())).status == "success"


def direct(lang: str, subs: list[dict], cases: list[dict]) -> tuple[float, float]:
    each = [(lang, s["code"], t["stdin"]) for s in subs for t in cases]
    once = [(lang, s["code"], [t["stdin"] for t in cases]) for s in subs]
    with ProcessPoolExecutor(PROCESSES) as pool:
        list(pool.map(_direct_each, each[:4]))  # warm-up: runner and toolchain caches
        start = time.perf_counter()
        list(pool.map(_direct_each, each, chunksize=4))
        run_each = time.perf_counter() - start
        start = time.perf_counter()
        list(pool.map(_direct_compile_once, once))
        compile_once = time.perf_counter() - start
    return run_each, compile_once


def through_service(base: str, key: str, lang: str, subs: list[dict], cases: list[dict]) -> tuple[float, dict]:
    headers = {"Authorization": f"Bearer {key}"}
    payload = {"language": lang, "tests": cases, "submissions": subs, "limits": {"timeout": 5, "memory_mb": 256}}
    deadline = time.monotonic() + 60
    while True:  # the batch worker may still be starting
        start = time.perf_counter()
        response = requests.post(f"{base}/codestudio/batch", json=payload, headers=headers)
        if response.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert response.status_code == 202, response.text
    url = f"{base}/codestudio/batch/{response.json()['id']}"
    while requests.get(url, params={"results": "false"}, headers=headers).json()["status"] in ("queued", "running"):
        time.sleep(0.1)
    return time.perf_counter() - start, requests.get(url, headers=headers).json()


def report(lang: str, subs: list[dict], cases: list[dict], base: str, key: str) -> tuple[float, float]:
    """Prints the comparison; returns (seconds through the service, seconds direct compiling every run)."""
    through_service(base, key, lang, subs[:2], cases[:2])  # warm-up
    wall, body = through_service(base, key, lang, subs, cases)
    run_each, compile_once = direct(lang, subs, cases)
    runs = len(subs) * len(cases)
    verdicts = {r["verdict"] for s in body["submissions"] for r in s["results"]}
    compiles = sum(s["compile"]["count"] for s in body["submissions"])
    print(f"{lang}: {len(subs)} submissions x {len(cases)} tests = {runs} runs, {PROCESSES} processes each")
    print(f"    batch through the service : {wall:7.2f} s  ({runs / wall:6.1f} runs/s)  status {body['status']}, "
          f"verdicts {sorted(verdicts)}")
    print(f"    direct, compile every run : {run_each:7.2f} s  -> batch/direct {wall / run_each:.2f}x (goal <= 1.25x)")
    print(f"    direct, compile once      : {compile_once:7.2f} s  -> batch/direct {wall / compile_once:.2f}x")
    if body["submissions"][0]["compile"]["status"] is not None:
        print(f"    compiles in the batch: {compiles} for {len(subs)} submissions")
    return wall, run_each


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", type=int, default=100)
    parser.add_argument("--java", type=int, default=20)
    parser.add_argument("--tests", type=int, default=10)
    opts = parser.parse_args()
    with bench_stack() as (base, key):
        for lang, count in (("python", opts.python), ("java", opts.java)):
            if count:
                report(lang, submissions(lang, count), tests(opts.tests), base, key)


if __name__ == "__main__":
    main()
