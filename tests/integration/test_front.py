"""The API as deployed (nginx in front of gunicorn) under slow-client attacks: clients that send
headers and a byte of body and go idle, from one key and from many, with and without a key, and
clients that never finish their headers. A second client's runs and /healthz keep answering
within a second throughout, and the front closes every stalled connection in bounded time.

Attackers connect from other loopback addresses (127.0.0.2 and up) than the probing client."""
from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field

import pytest
import requests

from tests.support.polling import wait_until

PROBE_LIMIT_SECONDS = 1.0


@dataclass
class Attack:
    """Connections from one source address that stop sending partway through a request."""
    sockets: list[socket.socket] = field(default_factory=list)
    answers: dict[int, bytes] = field(default_factory=dict)    # socket index -> what the front sent
    closed_at: dict[int, float] = field(default_factory=dict)  # socket index -> when it was closed

    def open(self, front, source: str, head: bytes, count: int) -> Attack:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((source, 0))
            sock.connect((front.settings.host, front.settings.port))
            sock.sendall(head)
            sock.setblocking(False)
            self.sockets.append(sock)
        return self

    def poll(self) -> None:
        for index, sock in enumerate(self.sockets):
            if index in self.closed_at:
                continue
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:  # reset by the front
                chunk = b""
            if chunk:
                self.answers[index] = self.answers.get(index, b"") + chunk
            else:
                self.closed_at[index] = time.monotonic()

    def refused_with(self, status: int) -> list[dict]:
        """Bodies of the answers with `status` (problem+json), one per refused connection."""
        refused = []
        for answer in self.answers.values():
            head, _, body = answer.partition(b"\r\n\r\n")
            if head.startswith(f"HTTP/1.1 {status} ".encode()):
                assert b"application/problem+json" in head, head
                refused.append(json.loads(body))
        return refused

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def stalled_body(path: str, key: str | None) -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (f"POST {path} HTTP/1.1\r\nHost: codestudio\r\n{auth}Content-Type: application/json\r\n"
            f"Content-Length: 100000\r\n\r\n{{").encode()


def probe_while(attacks: list[Attack], seconds: float, probes) -> list[tuple[str, float]]:
    """Call each probe in turn until `seconds` pass, polling the attackers' sockets between;
    returns (probe name, seconds it took) for every call."""
    timings = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name, probe in probes:
            started = time.monotonic()
            probe()
            timings.append((name, time.monotonic() - started))
            for attack in attacks:
                attack.poll()
        time.sleep(0.1)  # pacing: the probes keep coming for the whole attack
    return timings


def assert_fast(timings: list[tuple[str, float]]) -> None:
    slow = [(name, round(took, 3)) for name, took in timings if took > PROBE_LIMIT_SECONDS]
    assert not slow, f"probes slower than {PROBE_LIMIT_SECONDS} s: {slow}"
    assert len(timings) >= 20


def assert_all_closed_in_time(attack: Attack, opened_at: float, within: float) -> None:
    def settled() -> bool:  # every connection closed, or the time it had is up
        attack.poll()
        return len(attack.closed_at) == len(attack.sockets) or time.monotonic() - opened_at > within

    wait_until(settled, max(0.0, opened_at + within - time.monotonic()) + 5, what="the front closing connections")
    assert len(attack.closed_at) == len(attack.sockets), "the front left stalled connections open"
    latest = max(attack.closed_at.values()) - opened_at
    assert latest <= within, f"last stalled connection closed after {latest:.1f} s"


@pytest.fixture
def probe_user(make_user):
    return make_user("pro")


def _healthz(front):
    response = requests.get(front.url + "/healthz", timeout=5)
    assert response.status_code == 200


def _native_run(front, user):
    response = requests.post(front.url + "/codestudio/run", headers=user["headers"], timeout=5,
                             json={"language": "python", "code": "print(6 * 7)"})
    assert response.status_code == 200, response.text
    assert response.json()["stdout"] == "42\n"


def _piston_run(front, user):
    response = requests.post(front.url + "/api/v2/execute", headers=user["headers"], timeout=5,
                             json={"language": "python", "version": "*", "files": [{"content": "print(6 * 7)"}]})
    assert response.status_code == 200, response.text
    assert response.json()["run"]["stdout"] == "42\n"


def test_stalled_bodies_with_valid_keys_never_hold_the_api(front, worker, make_user, probe_user):
    settings = front.settings
    attacker, enterprise = make_user("free"), make_user("enterprise")
    opened_at = time.monotonic()
    one_address = Attack().open(front, "127.0.0.2", stalled_body("/codestudio/run", attacker["key"]), 60)
    one_key = Attack()  # one enterprise key from four addresses: the per-key cap applies across them
    for source in ("127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"):
        one_key.open(front, source, stalled_body("/codestudio/run", enterprise["key"]), 10)
    attacks = [one_address, one_key]

    timings = probe_while(attacks, settings.body_timeout + 1.5,
                          [("healthz", lambda: _healthz(front)), ("run", lambda: _native_run(front, probe_user))])

    assert_fast(timings)
    assert {name for name, _ in timings} == {"healthz", "run"}
    refused = one_key.refused_with(429)
    assert len(refused) == 40 - settings.per_key
    assert {problem["code"] for problem in refused} == {"too_many_connections"}
    assert len(one_address.refused_with(429)) == 60 - settings.per_key  # one key: its cap, not the address's
    for attack in attacks:
        assert_all_closed_in_time(attack, opened_at, settings.body_timeout + 3)
        attack.close()


def test_stalled_requests_without_a_key_never_hold_the_api(front, worker, probe_user):
    settings = front.settings
    opened_at = time.monotonic()
    bodies = Attack().open(front, "127.0.0.8", stalled_body("/api/v2/execute", None), 60)
    headers = Attack().open(front, "127.0.0.9", b"POST /api/v2/execute HTTP/1.1\r\nHost: codestudio\r\n", 20)
    flood = Attack().open(front, "127.0.0.10", stalled_body("/codestudio/stats", None), settings.per_address + 4)
    attacks = [bodies, headers, flood]

    timings = probe_while(attacks, settings.body_timeout + 1.5,
                          [("healthz", lambda: _healthz(front)), ("piston", lambda: _piston_run(front, probe_user))])

    assert_fast(timings)
    assert {problem["code"] for problem in flood.refused_with(429)} == {"too_many_connections"}
    assert len(flood.refused_with(429)) == 4
    assert_all_closed_in_time(headers, opened_at, settings.header_timeout + 2)
    for attack in (bodies, flood):
        assert_all_closed_in_time(attack, opened_at, settings.body_timeout + 3)
    for attack in attacks:
        attack.close()


def test_the_front_answers_its_own_refusals_as_problems(front, probe_user):
    too_large = requests.post(front.url + "/codestudio/run", headers=probe_user["headers"],
                              data=b"x" * (front.settings.max_body_bytes + 1), timeout=10)
    assert too_large.status_code == 413
    assert too_large.headers["Content-Type"].startswith("application/problem+json")
    assert too_large.json()["code"] == "payload_too_large"


def test_only_nginx_reaches_the_upstream_sockets(front):
    """A local user connecting to gunicorn or the MCP server directly would skip the front's limits
    and could claim any client address: the sockets' directory admits nginx's workers only."""
    import grp
    import os
    import subprocess

    runtime = front.runtime_dir
    info = os.stat(runtime)
    assert (info.st_mode & 0o777, info.st_gid) == (0o750, grp.getgrnam("nogroup").gr_gid)
    sockets = sorted(runtime.glob("*.sock"))
    assert {s.name for s in sockets} == {"api.sock", "mcp.sock"}
    # the system's Python: another user cannot read the venv's (under root's home)
    connect = "import socket, sys\nsocket.socket(socket.AF_UNIX).connect(sys.argv[1])"
    for path in sockets:  # another local user (not in nginx's group) is refused at the directory
        stranger = subprocess.run(["/usr/bin/python3", "-c", connect, str(path)], user=4242, group=4242,
                                  extra_groups=[], capture_output=True, text=True, timeout=30)
        assert stranger.returncode != 0 and "PermissionError" in stranger.stderr, stranger.stderr
        nginx_like = subprocess.run(["/usr/bin/python3", "-c", connect, str(path)], user="nobody", group="nogroup",
                                    extra_groups=[], capture_output=True, text=True, timeout=30)
        assert nginx_like.returncode == 0, nginx_like.stderr  # what nginx's workers need still works
