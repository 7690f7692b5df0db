"""Grading megabytes: a wrong answer whose output and expected output are large and differ early is
graded in linear time by the real batch worker (the comparison and its diff run outside the jail),
in every compare mode, at the default size limits and at limits an operator raised to 8 MiB."""
from __future__ import annotations

import time

from config.settings import broker_url
from tasks.diff import DIFF_LINES
from tests.support.batches import post_batch, verdicts, wait_batch
from tests.support.outage import RedisServer
from tests.support.workers import isolated_worker

MODES = ("exact", "trim", "tokens", "float")
# two-digit lines in two orders, each line under difflib's 1% "popular" cut: a unified diff of the
# whole texts takes time quadratic in their lines (about 10 minutes for a MiB)
PRINT_LINES = "import sys\nsys.stdout.write(''.join(f'{{i * 7 % 100:02d}}\\n' for i in range({count})))"
BIG_LIMIT = 8 << 20


def expected_lines(count: int) -> str:
    return "".join(f"{i % 100:02d}\n" for i in range(count))


def grade_every_mode(client, user, count: int, seconds: float) -> None:
    """One batch per compare mode: the program prints `count` lines that differ from the expected
    ones from the second line on; each batch must end with a short diff within `seconds`."""
    tests = [{"name": "big", "expected_output": expected_lines(count)}]
    submissions = [{"id": "other-order", "code": PRINT_LINES.format(count=count)}]
    for mode in MODES:
        started = time.monotonic()
        batch_id = post_batch(client, user, language="python", tests=tests, submissions=submissions, compare=mode,
                              limits={"timeout": 10, "memory_mb": 256}).get_json()["id"]
        body = wait_batch(client, user, batch_id, seconds=seconds)
        elapsed = time.monotonic() - started
        assert verdicts(body) == {"other-order": ["wrong_answer"]}, (mode, body["submissions"][0]["results"][0])
        diff = body["submissions"][0]["results"][0]["diff"]
        lines = diff.splitlines()  # from the last equal line, "00"; the second line differs ("01" / "07")
        assert lines[:2] == ["--- expected", "+++ got"] and lines[2].startswith("@@ -1,") and lines[3] == " 00", diff
        assert "+07" in lines and len(lines) <= DIFF_LINES + 1 and len(diff) < 1000, (mode, diff)
        assert elapsed < seconds, (mode, elapsed)


def test_a_mebibyte_wrong_answer_is_graded_quickly(client, user, batch_worker):
    """Just under the default 1 MiB limits of output and expected output."""
    grade_every_mode(client, user, count=340_000, seconds=30)


def test_multi_megabyte_outputs_under_raised_limits(app_with, stack_env, user, tmp_path):
    """An operator raised both limits to 8 MiB: 3 MiB printed against 3 MiB expected."""
    server = RedisServer(tmp_path)  # a worker of its own, with the raised output limit
    api = app_with(REDIS_URL=server.url, CELERY_BROKER_URL=broker_url(server.url), MAX_STDIN_BYTES=BIG_LIMIT)
    env = {**stack_env, "REDIS_URL": server.url, "SANDBOX_OUTPUT_LIMIT_BYTES": str(BIG_LIMIT)}
    try:
        with isolated_worker(api, env, tmp_path / "worker.log", "large-outputs", "batch"):
            grade_every_mode(api.test_client(), user, count=(3 << 20) // 3, seconds=30)
    finally:
        server.stop()


def test_grading_time_counts_in_the_submission_budget(client, make_user, batch_worker):
    """Five tests of 94.9 s (and 1 s each to start a sandbox) fit the 480 s a submission's task may
    take only while their expected outputs are small: grading a MiB of expected output takes longer."""
    enterprise = make_user("enterprise")
    small = [{"name": f"t{i}", "expected_output": "3\n", "limits": {"timeout": 94.9}} for i in range(5)]
    large = [{**test, "expected_output": expected_lines(340_000)} for test in small]
    body = post_batch(client, enterprise, expect=422, language="python", tests=large,
                      submissions=[{"id": "a", "code": "print(3)"}]).get_json()
    assert body["code"] == "batch_too_slow" and "could take 482 s" in body["detail"], body
    accepted = post_batch(client, enterprise, language="python", tests=small,
                          submissions=[{"id": "a", "code": "print(3)"}]).get_json()
    assert verdicts(wait_batch(client, enterprise, accepted["id"])) == {"a": ["accepted"] * 5}
