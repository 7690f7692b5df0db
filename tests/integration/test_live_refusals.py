"""Live runs refused, as the caller on the WebSocket sees it: authentication (header, first frame,
never the URL), the rate limit, every bad frame's error code and close code, the frame and input
bounds, the tier's cap on live runs, plain HTTP on the WebSocket's URL."""
from __future__ import annotations

import time

import pytest
import requests

from tests.support.live_client import LiveClient, execution, started
from tests.support.polling import wait_until

pytestmark = pytest.mark.usefixtures("worker")


def live(front, user, **kwargs) -> LiveClient:
    return LiveClient(front, key=user["key"], **kwargs)


def test_a_browser_authenticates_with_its_first_frame(front, user):
    client = LiveClient(front)
    client.send(type="auth", key=user["key"])
    client.start("python", "print(input())", stdin="from a browser\n")
    last, code = client.finish()
    assert last["result"]["stdout"] == "from a browser\n" and code == 1000


@pytest.mark.parametrize(("first", "code"), [
    ({"type": "auth", "key": "cs_not-a-key"}, "invalid_api_key"),
    ({"type": "auth"}, "invalid_api_key"),
    ({"type": "start", "language": "python", "code": "print(1)"}, "unauthorized"),
])
def test_a_connection_without_a_valid_key_is_refused(front, first, code):
    client = LiveClient(front)
    client.send(**first)
    last, close = client.refusal()
    assert last["type"] == "error" and last["code"] == code, last
    assert close == 4401


def test_a_connection_that_sends_no_key_is_closed_after_five_seconds(front):
    client = LiveClient(front)
    opened = time.monotonic()
    last, close = client.refusal(timeout=15)
    assert last["code"] == "auth_timeout" and close == 4401
    assert 4.5 < time.monotonic() - opened < 8


def test_a_bad_key_header_is_refused_before_the_upgrade(front):
    import websocket

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        LiveClient(front, key="cs_not-a-key")
    assert refused.value.status_code == 401


@pytest.mark.parametrize("query", ["?key=abc", "?api_key=abc", "?token=abc&x=1"])
def test_a_key_in_the_url_is_refused(front, user, query):
    client = LiveClient(front, query=query)
    last, close = client.refusal()
    assert last["code"] == "key_in_url" and close == 1008
    with_header = LiveClient(front, key=user["key"], query=query)  # refused even with a good header
    last, close = with_header.refusal()
    assert last["code"] == "key_in_url" and close == 1008


@pytest.mark.parametrize(("raw", "code", "close"), [
    ("{", "invalid_json", 1003),
    ("[1, 2]", "invalid_json", 1003),
    ('{"type": "hello"}', "unknown_type", 1003),
    ('{"no": "type"}', "unknown_type", 1003),
    (b"\x00\x01", "binary_frame", 1003),
    ('{"type": "stdin", "data": "too soon"}', "not_started", 1008),
    ('{"type": "eof"}', "not_started", 1008),
    ('{"type": "start", "language": "python"}', "validation_error", 4422),
    ('{"type": "start", "language": "cobol-85", "code": "x"}', "unknown_language", 4422),
    ('{"type": "start", "language": "python", "code": "x", "limits": {"timeout": 100000}}', "limit_exceeded", 4422),
    ('{"type": "start", "language": "python", "code": "x", "cols": 0, "tty": true}', "validation_error", 4422),
])
def test_a_bad_frame_before_the_run_gets_an_error_frame_and_a_close_code(front, user, raw, code, close):
    client = live(front, user)
    client.send_raw(raw)
    last, closed = client.refusal()
    assert last["type"] == "error" and last["code"] == code, last
    assert closed == close
    assert "Traceback" not in last["detail"]


@pytest.mark.parametrize(("frame", "code", "close"), [
    ({"type": "start", "language": "python", "code": "print(1)"}, "already_started", 1008),
    ({"type": "signal", "signal": "SIGFOO"}, "invalid_signal", 1008),
    ({"type": "signal", "signal": 9}, "invalid_signal", 1008),
    ({"type": "resize", "cols": 0, "rows": 24}, "invalid_resize", 1008),
    ({"type": "resize", "cols": "80", "rows": 24}, "invalid_resize", 1008),
    ({"type": "stdin", "data_b64": "not base64!"}, "invalid_stdin", 1008),
    ({"type": "stdin", "data": "a", "data_b64": "YQ=="}, "invalid_stdin", 1008),
    ({"type": "auth", "key": "x"}, "already_authenticated", 1008),
])
def test_a_bad_frame_during_the_run_stops_it(front, user, frame, code, close):
    client, execution_id = started(front, user, tty=True)
    client.send(**frame)
    last, closed = client.refusal()
    assert last["type"] == "error" and last["code"] == code, last
    assert closed == close
    wait_until(lambda: execution(front, user, execution_id)["status"] == "stopped", 10, interval=0.1,
               what="the run to be stopped")


def test_a_frame_over_the_cap_is_refused(front, user):
    client, execution_id = started(front, user)
    client.send(type="stdin", data="x" * (1024 * 1024 + 1))
    last, closed = client.refusal()
    assert last["code"] == "frame_too_large" and closed == 1009
    wait_until(lambda: execution(front, user, execution_id)["status"] == "stopped", 10, interval=0.1,
               what="the run to be stopped")


def test_a_start_frame_over_the_request_size_is_refused(front, user):
    client = live(front, user)
    client.send(type="start", language="python", code="#" * (9 * 1024 * 1024))
    last, closed = client.refusal()
    assert last["code"] == "frame_too_large" and closed == 1009


def test_a_stdin_flood_is_bounded_and_refused(front, user):
    client, execution_id = started(front, user)
    chunk = "y" * 1_000_000
    try:
        for _ in range(40):
            client.send(type="stdin", data=chunk)
    except OSError:  # the server closed while we still sent
        pass
    last, closed = client.refusal()
    assert last["code"] == "input_flood" and closed == 1008, last
    wait_until(lambda: execution(front, user, execution_id)["status"] == "stopped", 10, interval=0.1,
               what="the run to be stopped")


def test_the_tier_caps_concurrent_live_runs(front, make_user):
    free = make_user("free")  # live_concurrent = 1, concurrent_executions = 2
    first, _ = started(front, free)
    second = live(front, free)
    second.send(type="start", language="python", code="print(2)")
    last, closed = second.refusal()
    assert last["code"] == "concurrency_limit" and last["limit"] == "live_concurrent", last
    assert last["status"] == 429 and closed == 4429
    assert last["upgrade_to"] == "pro"
    first.close()


def remaining_requests(front, user) -> int:
    response = requests.get(f"{front.url}/codestudio/executions?limit=1", headers=user["headers"], timeout=10)
    return int(response.headers["X-RateLimit-Remaining"])


@pytest.mark.parametrize("by_frame", [False, True], ids=["header", "first-frame"])
def test_the_upgrade_counts_as_one_request_of_the_callers_rate_limit(front, make_user, by_frame):
    caller = make_user("free")  # 30 requests a minute
    before = remaining_requests(front, caller)
    client = LiveClient(front) if by_frame else LiveClient(front, key=caller["key"])
    if by_frame:
        client.send(type="auth", key=caller["key"])
    client.start("python", "print(1)")
    client.finish()
    assert remaining_requests(front, caller) == before - 2  # the upgrade and this request


def test_a_caller_over_its_rate_limit_is_refused(front, make_user):
    caller = make_user("free")
    while remaining_requests(front, caller) > 0:
        pass
    client = LiveClient(front)
    client.send(type="auth", key=caller["key"])
    last, close = client.refusal()
    assert last["code"] == "rate_limited" and close == 4429, last
    import websocket

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:  # with the header: refused as HTTP
        LiveClient(front, key=caller["key"])
    assert refused.value.status_code == 429


def test_a_plain_http_get_of_the_websocket_is_a_problem(front, user):
    response = requests.get(f"{front.url}/codestudio/live", headers=user["headers"], timeout=10)
    assert response.status_code == 400 and response.json()["code"] == "websocket_mismatch"
