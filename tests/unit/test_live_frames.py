"""A live run's caller frames read and refused (app/services/live_frames.py), the bounds on what a
connection may queue (app/api/live_socket.py), and our run events worded as Piston's frames."""
from __future__ import annotations

import pytest

from app.api.live_socket import QUEUED_FRAMES, FrameBounds
from app.compat.piston_connect import piston_frames
from app.services.live import close_code
from app.services.live_frames import (
    FrameRefused,
    InputRate,
    client_event,
    close_code_for_status,
    parse,
    signal_name,
)
from sandbox.live import EndOfInput, Input, Resize, SendSignal


def refused(call, *args) -> FrameRefused:
    with pytest.raises(FrameRefused) as caught:
        call(*args)
    return caught.value


@pytest.mark.parametrize(("message", "code"), [
    (b"{}", "binary_frame"), ("{", "invalid_json"), ("[]", "invalid_json"), ('"start"', "invalid_json"),
    ("[" * 100 + "]" * 100, "invalid_json"), ("{}", "unknown_type"), ('{"type": "exit"}', "unknown_type"),
    ('{"type": 1}', "unknown_type"),
])
def test_frames_that_are_not_a_known_json_object_are_unsupported_data(message, code):
    refusal = refused(parse, message)
    assert (refusal.code, refusal.close) == (code, 1003)
    assert refusal.frame()["type"] == "error" and refusal.frame()["code"] == code


def test_input_frames_become_the_sandboxs_client_events():
    assert client_event({"type": "stdin", "data": "héllo"}, tty=False) == Input("héllo".encode())
    assert client_event({"type": "stdin", "data_b64": "AAH/"}, tty=False) == Input(b"\x00\x01\xff")
    assert client_event({"type": "stdin", "data": ""}, tty=False) is None
    assert client_event({"type": "eof"}, tty=False) == EndOfInput()
    assert client_event({"type": "signal", "signal": "sigint"}, tty=False) == SendSignal("INT")
    assert client_event({"type": "resize", "cols": 100, "rows": 30}, tty=True) == Resize(100, 30)
    assert client_event({"type": "resize", "cols": 100, "rows": 30}, tty=False) is None  # pipes have no size


@pytest.mark.parametrize(("frame", "code"), [
    ({"type": "stdin"}, "invalid_stdin"),
    ({"type": "stdin", "data": 5}, "invalid_stdin"),
    ({"type": "stdin", "data_b64": "***"}, "invalid_stdin"),
    ({"type": "stdin", "data": "a", "data_b64": "YQ=="}, "invalid_stdin"),
    ({"type": "signal", "signal": "SEGV"}, "invalid_signal"),
    ({"type": "signal"}, "invalid_signal"),
    ({"type": "resize", "cols": True, "rows": 5}, "invalid_resize"),
    ({"type": "resize", "cols": 1001, "rows": 5}, "invalid_resize"),
    ({"type": "resize", "cols": 80}, "invalid_resize"),
    ({"type": "start"}, "already_started"),
    ({"type": "auth", "key": "k"}, "already_authenticated"),
])
def test_bad_input_frames_are_policy_violations(frame, code):
    refusal = refused(client_event, frame, True)
    assert (refusal.code, refusal.close) == (code, 1008)


def test_signal_names_with_or_without_sig():
    assert [signal_name(name) for name in ("KILL", "SIGKILL", "sigterm", "Winch")] == ["KILL", "KILL", "TERM", "WINCH"]


def test_close_codes_follow_the_rest_status_or_the_end():
    assert [close_code_for_status(status) for status in (401, 422, 429, 503, 500)] == [4401, 4422, 4429, 4503, 1011]
    assert close_code({"type": "exit"}) == 1000
    assert close_code({"type": "error", "code": "client_too_slow"}) == 1008
    assert close_code({"type": "error", "code": "worker_lost"}) == 1011


def test_input_beyond_its_rate_waits_for_it():
    rate = InputRate(1000, now=0.0)
    assert rate.wait_for(1000, now=0.0) == 0.0  # a second's worth at once
    assert rate.wait_for(500, now=0.0) == pytest.approx(0.5)
    assert rate.wait_for(500, now=1.5) == 0.0  # refilled meanwhile (never above a second's worth)


def test_frame_bounds_refuse_a_large_frame_and_a_flood():
    bounds = FrameBounds(max_frame=100, max_queued_bytes=250)
    assert bounds.admit(60, finished=False) is None
    assert bounds.admit(50, finished=True).code == "frame_too_large"  # 110 in one message

    bounds = FrameBounds(max_frame=100, max_queued_bytes=250)
    for _ in range(2):
        assert bounds.admit(100, finished=True) is None
    bounds.taken(100)  # the relay took one: room again
    assert bounds.admit(100, finished=True) is None
    assert bounds.admit(100, finished=True).code == "input_flood"

    bounds = FrameBounds(max_frame=10, max_queued_bytes=10**9)
    results = [bounds.admit(1, finished=True) for _ in range(QUEUED_FRAMES + 1)]
    assert results[-1] is not None and results[-1].code == "input_flood" and results[-2] is None

    bounds = FrameBounds(max_frame=10**6, max_queued_bytes=10**7)
    bounds.lower(1000)
    assert (bounds.max_frame, bounds.max_queued_bytes) == (1000, 4000)


def test_run_events_as_pistons_frames():
    assert piston_frames({"type": "stdout", "data": "x", "seq": 3}) == [{"type": "data", "stream": "stdout",
                                                                           "data": "x"}]
    assert piston_frames({"type": "compile", "data": "warning", "seq": 2}) == [
        {"type": "data", "stream": "stderr", "data": "warning"}]
    assert piston_frames({"type": "stage", "stage": "run", "state": "start", "seq": 1}) == [
        {"type": "stage", "stage": "run"}]
    ended = {"type": "stage", "stage": "run", "state": "end", "status": "error", "returncode": 137,
             "signal": "SIGKILL", "seq": 9}
    assert piston_frames(ended) == [{"type": "exit", "stage": "run", "code": None, "signal": "SIGKILL",
                                     "error": None}]
    timed_out = {**ended, "status": "timeout", "returncode": None, "signal": None}
    assert piston_frames(timed_out)[0]["error"] == "timeout"


class FakeChannel:
    """The out stream as read: batches of (entry id, event); records why the caller left."""

    def __init__(self, *batches):
        self.batches, self.left, self.execution_id = list(batches), [], "e" * 32

    def read(self, after):
        return self.batches.pop(0) if self.batches else []

    def leave(self, reason):
        self.left.append(reason)


def test_the_relay_forwards_events_in_order_and_stops_a_run_whose_caller_fell_behind():
    import threading

    from app.services.live import OutRelay

    events = [(f"1-{n}", {"type": "stdout", "data": str(n), "seq": n}) for n in (1, 2)]
    gap = [("1-9", {"type": "stdout", "data": "9", "seq": 9})]  # 3 to 8 trimmed before the relay read them
    channel = FakeChannel(events, gap)
    frames = list(OutRelay(channel).frames(threading.Event()))
    assert [frame["data"] for frame in frames[:2]] == ["1", "2"]
    assert frames[2]["type"] == "error" and frames[2]["code"] == "client_too_slow"
    assert "3 to 8" in frames[2]["detail"] and len(frames) == 3
    assert channel.left == ["client_too_slow"]
