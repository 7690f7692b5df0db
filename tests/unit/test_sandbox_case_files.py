"""Every sandbox case file (tests/integration/sandbox_cases/) is well formed: one program, known
expectations, named checks that exist, and texts whose braces name known values."""
from tests.support.sandbox_cases import CASES_DIR, EXACT, load_cases
from tests.support.sandbox_checks import CHECKS, VALUES


def test_every_case_loads_and_names_only_known_checks_and_values():
    cases = load_cases(CASES_DIR)
    assert cases and len({case.name for case in cases}) == len(cases)
    for case in cases:
        assert set(case.expect.get("checks", ())) <= set(CHECKS), case.name
        for key in (*EXACT, "stdout_contains", "stderr_contains", "compile_output_contains", "stderr_startswith"):
            value = case.expect.get(key)
            for text in value if isinstance(value, list) else [value]:
                if isinstance(text, str):
                    text.format(**VALUES)  # a KeyError names an unknown value
