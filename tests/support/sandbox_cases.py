"""Sandbox cases as data (tests/integration/sandbox_cases/<case>/, like DMOJ's testsuite): one
program file and a case.yml saying how to run it and what must come of it.

case.yml:
  language: python               # the default
  limits: {timeout: 2, memory_mb: 128}
  stdin: "..."
  skip_if_not_installed: true    # skip, saying why, where the language's toolchain is missing
  expect:                        # only what is listed is checked
    status / stdout / stderr / message / returncode / signal / compile_output: the exact value
    stdout_contains, stderr_contains, compile_output_contains: [fragments each must hold]
    stderr_startswith: "..."
    above / below: {field: bound}        # strictly greater / smaller
    at_least / at_most: {field: bound}   # or equal
    within_seconds: 8                    # the whole request, end to end
    checks: [name, ...]                  # a named check function of the test module

Text expectations may name values in braces, e.g. "ENOSPC {tmp_bytes}"; named checks and the
values are in tests/support/sandbox_checks.py (a literal brace is doubled)."""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

EXACT = ("status", "stdout", "stderr", "message", "returncode", "signal", "compile_output")
CONTAINS = ("stdout_contains", "stderr_contains", "compile_output_contains")
BOUNDS = {"above": operator.gt, "below": operator.lt, "at_least": operator.ge, "at_most": operator.le}
KNOWN = {*EXACT, *CONTAINS, *BOUNDS, "stderr_startswith", "within_seconds", "checks"}
CASES_DIR = Path(__file__).parents[1] / "integration" / "sandbox_cases"


@dataclass(frozen=True)
class SandboxCase:
    name: str
    program: Path
    language: str = "python"
    limits: dict | None = None
    stdin: str | None = None
    skip_if_not_installed: bool = False
    expect: dict = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.program.read_text()

    def request(self) -> dict:
        """The run's fields besides language and code."""
        return {k: v for k, v in (("limits", self.limits), ("stdin", self.stdin)) if v is not None}


def load_cases(directory: Path) -> list[SandboxCase]:
    """Every case under `directory`, by name."""
    return [load_case(d) for d in sorted(p for p in directory.iterdir() if (p / "case.yml").is_file())]


def load_case(directory: Path) -> SandboxCase:
    spec = yaml.safe_load((directory / "case.yml").read_text())
    programs = [p for p in directory.iterdir() if p.name != "case.yml"]
    assert len(programs) == 1, f"{directory}: one program file besides case.yml, not {programs}"
    unknown = set(spec.get("expect", {})) - KNOWN
    assert not unknown, f"{directory}/case.yml: unknown expectations {sorted(unknown)}"
    return SandboxCase(name=directory.name, program=programs[0], **spec)


def check_expectations(case: SandboxCase, body: dict, seconds: float, values: dict) -> None:
    """Every expectation of the case but its named checks, against the run's body and the
    seconds the request took; `values` fill the braces of text expectations."""
    expect = case.expect

    def text(value):
        return value.format(**values) if isinstance(value, str) else value

    for key in EXACT:
        if key in expect:
            assert body[key] == text(expect[key]), (key, body)
    for key in CONTAINS:
        for fragment in expect.get(key, ()):
            assert text(fragment) in body[key.removesuffix("_contains")], (key, fragment, body)
    if "stderr_startswith" in expect:
        assert body["stderr"].startswith(text(expect["stderr_startswith"])), body
    for kind, compare in BOUNDS.items():
        for key, bound in expect.get(kind, {}).items():
            assert compare(body[key], bound), (f"{key} {kind} {bound}", body)
    if "within_seconds" in expect:
        assert seconds < expect["within_seconds"], (seconds, body)
