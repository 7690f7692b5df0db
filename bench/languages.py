"""Per-language benchmark: hello world end to end through the API (compile + run) next to
the same toolchain commands run bare (no jail, no API) in the same run.

Usage: python -m bench.languages [--runs 10] [--only python,java]
"""
from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import tomllib
from pathlib import Path

import requests

from sandbox.jail import entry_file, expand
from sandbox.registry import TOOLCHAINS_DIR, Language, registry
from sandbox.toolchains import detect_version

from .run_bench import bench_stack

PROGRAMS = Path(__file__).resolve().parent.parent / "tests" / "programs"
CLEAN_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def hello(lang_id: str) -> str:
    return tomllib.loads((PROGRAMS / f"{lang_id}.toml").read_text())["hello"]


def host_argv(lang, argv: list[str], work: Path) -> list[str]:
    """The jail's paths mapped back onto the host for a bare run, in one pass (a host path may
    itself contain `/work`): the language's own binds (`host:inside`), /opt/toolchains, /work."""
    paths = dict(tuple(bind.split(":", 1))[::-1] for bind in lang.binds if ":" in bind)  # inside -> host
    paths |= {"/opt/toolchains": TOOLCHAINS_DIR, "/work": str(work)}
    pattern = re.compile("|".join(re.escape(inside) for inside in sorted(paths, key=len, reverse=True)))
    return [pattern.sub(lambda found: paths[found.group(0)], arg) for arg in argv]


def bare_once(lang, code: str) -> float:
    work = Path(tempfile.mkdtemp(prefix="cs-bare-"))
    try:
        main = entry_file(lang, code)
        (work / main).write_text(lang.prelude + code)
        env = {**CLEAN_ENV, "HOME": str(work), **{k: v.replace("/tmp", str(work)) for k, v in lang.env.items()}}
        start = time.perf_counter()
        for template in (lang.compile, lang.run):
            if template:
                argv = host_argv(lang, expand(template, lang, 512, main), work)
                subprocess.run(argv, cwd=work, env=env, check=True, capture_output=True, timeout=120)
        return time.perf_counter() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)


def api_once(session, url: str, key: str, lang_id: str, code: str) -> float:
    start = time.perf_counter()
    body = session.post(url, json={"language": lang_id, "code": code}, headers={"Authorization": f"Bearer {key}"},
                        timeout=120).json()
    elapsed = time.perf_counter() - start
    assert body.get("status") == "success", body
    return elapsed


def available(only: str = "", interpreted: bool = False) -> list[Language]:
    """The registry's languages whose toolchain is here (of `only`, comma-separated, if given;
    only those without a compile step if `interpreted`)."""
    wanted = set(filter(None, only.split(",")))
    return [lang for lang in registry() if (not wanted or lang.id in wanted)
            and not (interpreted and lang.compile) and detect_version(lang)]


def measure(session, url: str, key: str, lang: Language, runs: int) -> tuple[float, float]:
    """p50 seconds of hello world bare and through the API, interleaved, after a warm-up of each."""
    code = hello(lang.id)
    api_once(session, url, key, lang.id, code)
    bare_once(lang, code)
    bare, api = [], []
    for _ in range(runs):
        bare.append(bare_once(lang, code))
        api.append(api_once(session, url, key, lang.id, code))
    return statistics.median(bare), statistics.median(api)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--only", default="")
    opts = parser.parse_args()
    with bench_stack() as (base, key):
        url, session = f"{base}/codestudio/run", requests.Session()
        print(f"{'language':<12} {'bare p50':>10} {'API p50':>10} {'ratio':>7}")
        for lang in available(opts.only):
            b, a = measure(session, url, key, lang, opts.runs)
            print(f"{lang.id:<12} {b * 1000:8.0f}ms {a * 1000:8.0f}ms {a / b:6.2f}x", flush=True)


if __name__ == "__main__":
    main()
