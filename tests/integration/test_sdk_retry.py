"""The SDK's retries and quota errors against the real API over HTTP, with tiers of tiny limits
(registered in the in-process app served at `http_url`; the deployed front reads its tiers from
config/tiers.toml)."""
from __future__ import annotations

import time

import pytest
from codestudio_client import ConcurrencyLimited, QuotaExceeded, RetryPolicy

from tests.support.sdk_clients import KINDS, run, sdk

pytestmark = pytest.mark.usefixtures("worker")


@KINDS
def test_a_refused_run_is_retried_after_retry_after_and_succeeds(kind, http_url, make_user, tier):
    caller = make_user(tier(f"one-at-a-time-{kind}", concurrent_executions=1))
    retries = []
    policy = RetryPolicy(max_attempts=20, max_delay=5, budget=60, on_retry=retries.append)

    async def scenario():
        async with sdk(kind, http_url, caller["key"], retry=policy) as api:
            busy = await api.execute_code("python", "import time\ntime.sleep(2)\nprint('slept')", wait=False)
            started = time.monotonic()
            second = await api.execute_code("python", "print('second')")
            took = time.monotonic() - started
            assert second.ok and second.stdout == "second\n", second
            assert (await api.wait_execution(busy.id, timeout=30)).stdout == "slept\n"
            return took

    took = run(scenario())
    assert retries, "the second run was never refused"
    for retry in retries:
        assert isinstance(retry.error, ConcurrencyLimited) and retry.error.retry_after == 1.0
        assert 1.0 <= retry.delay <= 1.0 * (1 + policy.jitter)  # Retry-After in full, jitter only adds
    assert took >= sum(r.delay for r in retries)


@KINDS
def test_a_used_up_daily_quota_raises_quota_exceeded_at_once(kind, http_url, make_user, tier):
    caller = make_user(tier(f"one-a-day-{kind}", executions_per_day=1))

    async def scenario():
        async with sdk(kind, http_url, caller["key"]) as api:
            assert (await api.execute_code("python", "print(1)")).ok
            started = time.monotonic()
            with pytest.raises(QuotaExceeded) as refused:
                await api.execute_code("python", "print(2)")
            assert time.monotonic() - started < 5  # a reset hours away is not waited for
            return refused.value

    refused = run(scenario())
    assert (refused.status, refused.code, refused.limit) == (429, "daily_quota_exceeded", "executions_per_day")
    assert refused.upgrade_to == "free" and refused.tier == f"one-a-day-{kind}" and refused.retry_after > 60
