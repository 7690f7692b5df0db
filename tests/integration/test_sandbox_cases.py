"""Hostile and edge-case programs through the real worker path (API -> Celery worker -> nsjail),
each a data case: tests/integration/sandbox_cases/<case>/ holds the program and its case.yml
(tests/support/sandbox_cases.py reads them; tests/support/sandbox_checks.py has the named checks).
Case names carry their number in the adversarial list of ../shared/notes/sandbox.md §D where they
have one. Cases that need more than a run and its answer (host-side canaries, sampling cgroups,
several runs sharing one probe) are in test_sandbox_suite*.py."""
import time

import pytest

from tests.support.languages import installed
from tests.support.sandbox_cases import CASES_DIR, SandboxCase, check_expectations, load_cases
from tests.support.sandbox_checks import CHECKS, VALUES

pytestmark = pytest.mark.sandbox  # the database and Redis behind it do not matter: one CI pass

CASES = load_cases(CASES_DIR)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_sandbox_case(run, case: SandboxCase):
    if case.skip_if_not_installed:
        installed(case.language)
    started = time.monotonic()
    body = run(case.language, case.code, **case.request())
    check_expectations(case, body, time.monotonic() - started, VALUES)
    for name in case.expect.get("checks", ()):
        CHECKS[name](body, run)
