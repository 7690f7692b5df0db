"""The SDK's retry policy (delays, jitter bounds, caps, what is retried) and its retries through
both clients, against canned answers (httpx.MockTransport)."""
from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from codestudio_client import (
    AsyncClient,
    Client,
    ConcurrencyLimited,
    QuotaExceeded,
    RetryPolicy,
    ServiceUnavailable,
    TransportError,
    ValidationError,
)
from codestudio_client.errors import api_error

LOW, HIGH = (lambda: 0.0), (lambda: 1.0)  # the policy's random() at its bounds


def refusal(status: int, code: str, retry_after: str | None = None):
    return api_error(status, "", {"code": code, "detail": code}, retry_after)


@pytest.mark.parametrize("retry_after", ["0", "1", "2.5", "20"])
def test_a_retry_after_is_waited_in_full_and_jitter_only_adds(retry_after):
    seconds = float(retry_after)
    error = refusal(429, "rate_limited", retry_after)
    for jitter in (0.0, 0.2, 0.5):
        low = RetryPolicy(jitter=jitter, random=LOW).delay(1, error, idempotent=False, elapsed=0)
        high = RetryPolicy(jitter=jitter, random=HIGH).delay(1, error, idempotent=False, elapsed=0)
        assert low == seconds and high == pytest.approx(min(30.0, seconds * (1 + jitter)))


def test_jitter_never_goes_past_the_cap_and_a_longer_retry_after_is_not_waited():
    policy = RetryPolicy(max_delay=30, jitter=0.5, random=HIGH)
    assert policy.delay(1, refusal(503, "database_unavailable", "28"), idempotent=True, elapsed=0) == 30.0
    assert policy.delay(1, refusal(429, "rate_limited", "31"), idempotent=True, elapsed=0) is None


def test_without_retry_after_the_delay_doubles_up_to_the_cap():
    policy = RetryPolicy(backoff=0.5, max_delay=3, jitter=0.2, random=LOW, max_attempts=99, budget=1e9)
    error = refusal(503, "no_worker")
    assert [policy.delay(n, error, idempotent=True, elapsed=0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    jittered = RetryPolicy(backoff=0.5, jitter=0.2, random=HIGH).delay(2, error, idempotent=True, elapsed=0)
    assert jittered == pytest.approx(1.2)


def test_attempts_and_the_time_budget_are_bounded():
    policy = RetryPolicy(max_attempts=3, budget=10, random=LOW)
    error = refusal(429, "rate_limited", "2")
    assert policy.delay(2, error, idempotent=True, elapsed=0) == 2.0
    assert policy.delay(3, error, idempotent=True, elapsed=0) is None  # the third attempt was the last
    assert policy.delay(1, error, idempotent=True, elapsed=8.5) is None  # 8.5 + 2 is past the budget


@pytest.mark.parametrize("error, idempotent, retried", [
    (refusal(429, "daily_quota_exceeded", "5"), True, False),  # QuotaExceeded: a quota does not come back soon
    (refusal(422, "validation_error"), True, False),
    (refusal(500, "internal_error"), True, False),
    (refusal(503, "broker_unavailable", "5"), False, True),  # refused before anything ran
    (TransportError("refused"), True, True),
    (TransportError("refused"), False, False),  # a POST that may have reached the server
])
def test_what_is_retried(error, idempotent, retried):
    delay = RetryPolicy().delay(1, error, idempotent=idempotent, elapsed=0)
    assert (delay is not None) == retried


class Answers:
    """A MockTransport handler: answers in order, every request recorded."""

    def __init__(self, *answers):
        self.answers, self.requests = list(answers), []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def problem(status: int, code: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"status": status, "code": code, "detail": code}, headers=headers)


EXECUTION = {"id": "e1", "status": "success", "stdout": "1\n", "returncode": 0}


def call(kind: str, answers: Answers, method: str, *args, retries: list | None = None, **kwargs):
    """`method` of a Client or AsyncClient over `answers`, with a fast policy."""
    policy = RetryPolicy(backoff=0.001, on_retry=(retries if retries is not None else []).append)
    transport = httpx.MockTransport(answers)
    if kind == "sync":
        with Client("http://api.test", "k", retry=policy, transport=transport) as client:
            return getattr(client, method)(*args, **kwargs)

    async def run():
        async with AsyncClient("http://api.test", "k", retry=policy, transport=transport) as client:
            return await getattr(client, method)(*args, **kwargs)

    return asyncio.run(run())


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_run_is_retried_with_one_idempotency_key(kind):
    answers = Answers(problem(429, "concurrency_limit", **{"Retry-After": "0"}),
                      problem(503, "no_worker", **{"Retry-After": "0"}), httpx.ConnectError("refused"),
                      httpx.Response(200, json=EXECUTION))
    retries: list = []
    assert call(kind, answers, "execute_code", "python", "print(1)", retries=retries).stdout == "1\n"
    keys = {request.headers["Idempotency-Key"] for request in answers.requests}
    assert len(answers.requests) == 4 and len(keys) == 1 and uuid.UUID(keys.pop()).version == 4
    assert [type(r.error) for r in retries] == [ConcurrencyLimited, ServiceUnavailable, TransportError]
    assert answers.requests[0].headers["Authorization"] == "Bearer k"

    again = Answers(httpx.Response(200, json=EXECUTION), httpx.Response(200, json=EXECUTION))
    call(kind, again, "execute_code", "python", "x")
    call(kind, again, "execute_code", "python", "x", idempotency_key="mine")
    assert again.requests[0].headers["Idempotency-Key"] != "mine" == again.requests[1].headers["Idempotency-Key"]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_request_that_is_not_idempotent_is_not_resent_after_a_transport_error(kind):
    answers = Answers(httpx.ReadTimeout("slow"))
    with pytest.raises(TransportError):
        call(kind, answers, "create_project", "p", "python")
    assert len(answers.requests) == 1 and "Idempotency-Key" not in answers.requests[0].headers
    reads = Answers(httpx.ConnectError("refused"), httpx.Response(200, json={"content": "x"}))
    assert call(kind, reads, "read_file", "p1", "a.py") == "x" and len(reads.requests) == 2


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_refusals_that_are_not_retried_raise_at_once(kind):
    daily = problem(429, "daily_quota_exceeded", **{"Retry-After": "0"})
    answers = Answers(daily, httpx.Response(422, json={"code": "validation_error", "errors": {"code": ["x"]}}))
    with pytest.raises(QuotaExceeded):
        call(kind, answers, "execute_code", "python", "x")
    with pytest.raises(ValidationError) as invalid:
        call(kind, answers, "execute_code", "python", "x")
    assert invalid.value.errors == {"code": ["x"]} and len(answers.requests) == 2
