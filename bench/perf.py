"""Issue 20's benchmark: every ratio the issue names from one run of `make run`'s stack (2 worker
processes), both sides of each measured in this run on this machine, each goal marked met or not,
ending with a summary table.

  P1   waited Python print(1) end to end, p50, vs a bare nsjail run of it (bench/bare_jail.py)
  P2   throughput with 4 and 8 clients (the best) vs bare nsjail runs in 2 processes
  interpreted languages: hello world end to end p50 vs the bare interpreter (no jail), each
  Java and Kotlin under sustained traffic: one a second, and 4 clients back to back
  nothing else slower: a live run's first output byte (bench/live.py), batch grading (bench/batch.py)

Usage: python -m bench.perf [--runs 100] [--throughput-runs 200] [--lang-runs 8] [--only bash,lua]
       [--sustain-seconds 60] [--sustain-requests 40] [--skip p1,p2,interpreted,jvm,live,batch]
"""
from __future__ import annotations

import argparse
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from .bare_jail import bare_python, bare_python_seconds
from .batch import report as batch_report
from .batch import submissions, tests
from .languages import available, measure
from .live import first_output
from .run_bench import (
    _direct_once,
    api_once,
    bench_stack,
    percentile,
    throughput_api,
    throughput_direct,
    wait_until_quiet,
)
from .sustained import Latencies, back_to_back, paced

SECTIONS = ("p1", "p2", "interpreted", "live", "jvm", "batch")
JVM_GOALS_MS = {"java": 250, "kotlin": 600}  # end-to-end p50 under sustained traffic
CLIENT_COUNTS = (4, 8)


@dataclass(frozen=True)
class Row:
    goal: str
    measured: str
    baseline: str
    ratio: str
    target: str
    met: bool | None  # None: nothing to judge in one run


@dataclass(frozen=True)
class Stack:
    base: str
    key: str
    session: requests.Session

    @property
    def run_url(self) -> str:
        return f"{self.base}/codestudio/run"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "-"}[met]


def p50_p95(values: list[float]) -> str:
    return f"p50 {ms(percentile(values, 50))}  p95 {ms(percentile(values, 95))}"


def latency(stack: Stack, runs: int) -> list[Row]:
    """P1: the three paths interleaved, so each sees the same machine."""
    for _ in range(5):  # warm-up of every path
        api_once(stack.session, stack.run_url, stack.key)
        bare_python()
        _direct_once()
    bare, nsjail, direct, api = [], [], [], []
    for _ in range(runs):
        timing = bare_python()
        bare.append(timing.total)
        nsjail.append(timing.nsjail)
        direct.append(_direct_once())
        api.append(api_once(stack.session, stack.run_url, stack.key))
    b, n, d, a = (percentile(values, 50) for values in (bare, nsjail, direct, api))
    ratio = a / b
    print(f"P1 latency: python print(1), {runs} runs of each, interleaved")
    print(f"    bare nsjail run (no cgroups)      : {p50_p95(bare)}   (the nsjail process alone: p50 {ms(n)})")
    print(f"    service's Runner.run(), direct    : {p50_p95(direct)}")
    print(f"    API, POST /codestudio/run (wait)  : {p50_p95(api)}")
    print(f"    ratio API/bare p50 {ratio:.2f}x (goal <= 1.3x): {verdict(ratio <= 1.3)}; "
          f"Runner/bare {d / b:.2f}x, API/Runner {a / d:.2f}x")
    print(f"    p50 differences: API - Runner.run() {(a - d) * 1000:+.1f} ms (API, queue, worker, database); "
          f"Runner.run() - bare {(d - b) * 1000:+.1f} ms (cgroups, accounting, ...)", flush=True)
    return [Row("P1 python print(1) waited, p50", ms(a), f"{ms(b)} bare nsjail", f"{ratio:.2f}x", "<= 1.3x",
                ratio <= 1.3)]


def throughput(stack: Stack, runs: int) -> list[Row]:
    """P2: bare runs before and after the API's (the better one is the baseline), Runner.run() for context."""
    bare = [throughput_direct(runs, 2, bare_python_seconds)]
    api = {clients: throughput_api(stack.run_url, stack.key, runs, clients) for clients in CLIENT_COUNTS}
    bare.append(throughput_direct(runs, 2, bare_python_seconds))
    direct = throughput_direct(runs, 2)
    best = max(api, key=lambda clients: api[clients])
    ratio = api[best] / max(bare)
    print(f"P2 throughput: {runs} runs of python print(1) each")
    print(f"    bare nsjail, 2 processes     : {bare[0]:6.1f} runs/s before, {bare[1]:6.1f} runs/s after")
    print(f"    Runner.run(), 2 processes    : {direct:6.1f} runs/s")
    for clients, rate in api.items():
        print(f"    API + 2 workers, {clients} clients : {rate:6.1f} runs/s")
    print(f"    ratio API (best, {best} clients)/bare (best) {ratio:.2f}x (goal >= 0.8x): {verdict(ratio >= 0.8)}",
          flush=True)
    return [Row(f"P2 throughput ({best} clients)", f"{api[best]:.1f} runs/s", f"{max(bare):.1f}/s bare x2",
                f"{ratio:.2f}x", ">= 0.8x", ratio >= 0.8)]


def interpreted(stack: Stack, runs: int, only: str) -> list[Row]:
    """Every interpreted language whose toolchain is here: hello world through the API vs bare."""
    results: dict[str, tuple[float, float]] = {}
    print(f"Interpreted languages: hello world, {runs} runs each, bare (no jail) and API interleaved")
    print(f"    {'language':<13}{'bare p50':>10}{'API p50':>11}{'ratio':>8}  goal <= 1.3x")
    for lang in available(only, interpreted=True):
        try:
            results[lang.id] = measure(stack.session, stack.run_url, stack.key, lang, runs)
        except (AssertionError, OSError, subprocess.SubprocessError, requests.RequestException, ValueError) as exc:
            print(f"    {lang.id:<13} failed: {str(exc)[:150]}", flush=True)
            continue
        b, a = results[lang.id]
        print(f"    {lang.id:<13}{ms(b):>10}{ms(a):>11}{a / b:7.2f}x  {verdict(a / b <= 1.3)}", flush=True)
    if not results:
        return [Row("interpreted hello p50", "none ran", "-", "-", "<= 1.3x each", False)]
    met = sum(a / b <= 1.3 for b, a in results.values())
    worst = max(results, key=lambda lang_id: results[lang_id][1] / results[lang_id][0])
    b, a = results[worst]
    print(f"    {met} of {len(results)} meet the goal ({len(results)} ran)")
    return [Row(f"interpreted p50: {met}/{len(results)} met", f"worst {worst} {ms(a)}", f"{ms(b)} bare",
                f"{a / b:.2f}x", "<= 1.3x each", met == len(results))]


def _jvm_row(lang_id: str, mode: str, found: Latencies) -> Row:
    goal = JVM_GOALS_MS[lang_id]
    failed = f", {len(found.failures)} failed" if found.failures else ""
    failed += f", {found.skipped} not sent (8 unanswered)" if found.skipped else ""
    if not found.seconds:
        print(f"    {lang_id:<7}{mode:<22}: no answers{failed}")
        return Row(f"{lang_id} {mode}", f"no answers{failed}", "-", "-", f"p50 <= {goal} ms", False)
    p50 = percentile(found.seconds, 50)
    met = p50 * 1000 <= goal and not found.failures and not found.skipped
    print(f"    {lang_id:<7}{mode:<22}: {len(found.seconds)} answers{failed}, {p50_p95(found.seconds)}, "
          f"max {ms(max(found.seconds))}: {verdict(met)}", flush=True)
    if found.failures:
        print(f"        first failure: {found.failures[0]}")
    return Row(f"{lang_id} {mode}", f"p50 {ms(p50)} p95 {ms(percentile(found.seconds, 95))}{failed}", "-", "-",
               f"p50 <= {goal} ms", met)


def jvm(stack: Stack, seconds: float, most: int) -> list[Row]:
    rows: list[Row] = []
    print(f"Java and Kotlin under sustained traffic (hello world, compile + run; {seconds:g} s per mode)")
    for n, lang in enumerate(available(",".join(JVM_GOALS_MS))):
        if n:
            settle()  # the last language's compile jails refilled
        rows.append(_jvm_row(lang.id, "1 a second", paced(stack.run_url, stack.key, lang.id, seconds)))
        settle()
        found = back_to_back(stack.run_url, stack.key, lang.id, 4, seconds, most)
        rows.append(_jvm_row(lang.id, f"4 clients ({most} max)", found))
    return rows


def live(stack: Stack, runs: int) -> list[Row]:
    """A live run's first output byte against a waited REST run's answer (bench/live.py's measure)."""
    ws_url = stack.base.replace("http://", "ws://", 1) + "/codestudio/live"
    first, rest = first_output(stack.base, ws_url, stack.key, runs)
    ratio = first / rest
    print(f"Live run, first output byte ({runs} runs): live p50 {ms(first)}; waited REST run p50 {ms(rest)}: "
          f"{ratio:.2f}x (goal: no later than the waited answer)", flush=True)
    return [Row("live first output byte p50", ms(first), f"{ms(rest)} waited REST", f"{ratio:.2f}x", "<= 1.0x",
                ratio <= 1.0)]


def batch(stack: Stack, counts: dict[str, int], test_count: int) -> list[Row]:
    """bench/batch.py's comparison, on this stack: its goal is batch/direct (compile every run) <= 1.25x."""
    rows: list[Row] = []
    print("Batch grading (bench/batch.py)")
    for lang_id, count in ((lang_id, count) for lang_id, count in counts.items() if count):
        if rows:
            settle()
        wall, direct = batch_report(lang_id, submissions(lang_id, count), tests(test_count), stack.base, stack.key)
        rows.append(Row(f"batch {lang_id} {count}x{test_count}", f"{wall:.2f} s", f"{direct:.2f} s direct",
                        f"{wall / direct:.2f}x", "<= 1.25x", wall / direct <= 1.25))
    return rows


def settle() -> None:
    """Between sections: let what the last one started (compile jails refilled, ...) finish first."""
    print(f"(quiet after {wait_until_quiet(limit_seconds=20):.0f} s)", flush=True)


def summary(rows: list[Row]) -> None:
    head = ("goal", "measured", "baseline (same run)", "ratio", "goal", "met?")
    table = [head, *((r.goal, r.measured, r.baseline, r.ratio, r.target, verdict(r.met)) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(head))]
    print("\nSummary")
    for line in table:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    judged = [r for r in rows if r.met is not None]
    print(f"  {sum(bool(r.met) for r in judged)} of {len(judged)} goals met. CI time is not measured here "
          "(time `.ci/run`).")


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="P1 runs of each path")
    parser.add_argument("--throughput-runs", type=int, default=200)
    parser.add_argument("--lang-runs", type=int, default=8, help="runs of each interpreted language")
    parser.add_argument("--only", default="", help="interpreted languages to run (comma-separated)")
    parser.add_argument("--sustain-seconds", type=float, default=60, help="per language and mode")
    parser.add_argument("--sustain-requests", type=int, default=40, help="at most, 4 clients back to back")
    parser.add_argument("--first-runs", type=int, default=20, help="live runs for the first output byte")
    parser.add_argument("--batch-python", type=int, default=100, help="submissions (0: none)")
    parser.add_argument("--batch-java", type=int, default=20, help="submissions (0: none)")
    parser.add_argument("--batch-tests", type=int, default=10)
    parser.add_argument("--skip", default="", help=f"sections to leave out, of {','.join(SECTIONS)}")
    return parser.parse_args()


def main() -> None:
    opts = options()
    skip = set(filter(None, opts.skip.split(",")))
    if unknown := skip - set(SECTIONS):
        raise SystemExit(f"unknown sections: {', '.join(sorted(unknown))}")
    started, rows = time.monotonic(), list[Row]()
    with bench_stack() as (base, key), requests.Session() as session:
        stack = Stack(base, key, session)
        sections: dict[str, Callable[[], list[Row]]] = {
            "p1": lambda: latency(stack, opts.runs),
            "p2": lambda: throughput(stack, opts.throughput_runs),
            "interpreted": lambda: interpreted(stack, opts.lang_runs, opts.only),
            "live": lambda: live(stack, opts.first_runs),
            "jvm": lambda: jvm(stack, opts.sustain_seconds, opts.sustain_requests),
            "batch": lambda: batch(stack, {"python": opts.batch_python, "java": opts.batch_java}, opts.batch_tests),
        }
        for n, name in enumerate(name for name in SECTIONS if name not in skip):
            if n:
                settle()  # bench_stack waited for the start-up work
            rows += sections[name]()
    summary(rows)
    print(f"(the whole run took {(time.monotonic() - started) / 60:.1f} min)")


if __name__ == "__main__":
    main()
