"""What `codestudio grade` reads: a tests file and submission files, written for a test."""
from __future__ import annotations

from pathlib import Path

SUM = "a, b = map(int, input().split())\nprint(a + b)\n"
TESTS_YAML = """\
language: python
compare: trim
limits: {timeout: 5}
tests:
  - name: small
    stdin: "1 2\\n"
    expected_output: 3
  - name: negative
    stdin: "-5 2\\n"
    expected_output: "-3\\n"
    points: 2
"""
BACKSLASH_REFUSED = "contains a forbidden character (U+005C REVERSE SOLIDUS)"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path
