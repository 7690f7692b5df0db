"""Where Judge0 callbacks may go: globally routable addresses only (with what 6to4, NAT64 and
IPv4-mapped addresses carry judged too), an operator's allow-list, checked at submit (a Judge0
422, within a time bound) and again when the worker sends."""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from tasks.callback_addresses import (
    CallbackRefused,
    is_allowed,
    is_public,
    resolve_allowed,
)
from tasks.callbacks import Callback, put

NOT_PUBLIC = [
    ("10.1.2.3", "IPv4 private"), ("172.16.0.1", "IPv4 private"), ("192.168.1.1", "IPv4 private"),
    ("100.64.0.1", "shared address space (CGNAT)"), ("100.100.100.200", "a cloud's metadata service, shared space"),
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("169.254.169.254", "link-local (metadata)"),
    ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"), ("0.0.0.0", "unspecified"), ("0.1.2.3", "this network"),
    ("192.0.0.8", "IETF protocol assignments"), ("192.0.2.1", "documentation"), ("198.18.0.1", "benchmarking"),
    ("::1", "IPv6 loopback"), ("::", "IPv6 unspecified"), ("fe80::1", "IPv6 link-local"),
    ("fec0::1", "IPv6 site-local (deprecated)"), ("fd00::1", "unique local"), ("fc00::1", "unique local"),
    ("ff02::1", "IPv6 multicast"), ("ff0e::1", "IPv6 global-scope multicast"), ("2001:db8::1", "documentation"),
    ("2002:7f00:1::", "6to4 around 127.0.0.1"), ("2002:a9fe:a9fe::1", "6to4 around 169.254.169.254"),
    ("2002:6464:64c8::", "6to4 around 100.100.100.200"), ("2001::1", "Teredo"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo wrapping a public client"),
    ("64:ff9b::7f00:1", "NAT64 around 127.0.0.1"), ("64:ff9b::a9fe:a9fe", "NAT64 around 169.254.169.254"),
    ("64:ff9b::a00:1", "NAT64 around 10.0.0.1"), ("64:ff9b:1::808:808", "local-use NAT64"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"), ("::ffff:10.0.0.1", "IPv4-mapped private"),
    ("::ffff:100.100.100.200", "IPv4-mapped shared space"), ("::7f00:1", "IPv4-compatible (deprecated)"),
    ("100::1", "discard-only"),
]
PUBLIC = [
    ("8.8.8.8", "IPv4"), ("1.1.1.1", "IPv4"), ("2606:4700:4700::1111", "IPv6"),
    ("2002:808:808::1", "6to4 around 8.8.8.8"), ("64:ff9b::808:808", "NAT64 around 8.8.8.8"),
    ("::ffff:8.8.8.8", "IPv4-mapped 8.8.8.8"),
]


@pytest.mark.parametrize("address, kind", NOT_PUBLIC)
def test_non_global_addresses_are_refused(address, kind):
    assert not is_public(ipaddress.ip_address(address)), kind
    assert not is_allowed(ipaddress.ip_address(address), []), kind


@pytest.mark.parametrize("address, kind", PUBLIC)
def test_global_addresses_are_allowed(address, kind):
    assert is_public(ipaddress.ip_address(address)), kind


def test_an_operator_allow_list_still_admits_its_networks(monkeypatch):
    monkeypatch.setenv("CODESTUDIO_CALLBACK_ALLOWED_NETWORKS", "127.0.0.1/32, 10.20.0.0/16")
    assert resolve_allowed("127.0.0.1", 80) == "127.0.0.1"
    assert resolve_allowed("10.20.3.4", 80) == "10.20.3.4"
    for address in ("127.0.0.2", "10.21.0.1", "100.100.100.200", "fec0::1", "2002:7f00:1::"):
        with pytest.raises(CallbackRefused, match="not a public address"):
            resolve_allowed(address, 80)


def test_resolution_is_bounded(monkeypatch):
    """A DNS server that never answers cannot hold the request: resolution gives up at the bound."""
    def hanging(*args, **kwargs):
        time.sleep(3)
        raise socket.gaierror("too late")

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    started = time.monotonic()
    with pytest.raises(CallbackRefused, match="did not resolve within 0.3 s"):
        resolve_allowed("slow.example", 80, seconds=0.3)
    assert time.monotonic() - started < 1.5


def test_the_worker_checks_again_before_sending(monkeypatch):
    """put() (the send path) refuses before connecting: a refused address never sees a request."""
    monkeypatch.setenv("CODESTUDIO_CALLBACK_ALLOWED_NETWORKS", "127.0.0.1/32")
    for url in ("http://100.100.100.200/latest/meta-data", "http://[fec0::1]/x", "http://[2002:7f00:1::]:8080/x",
                "http://[64:ff9b::a9fe:a9fe]/x", "http://127.0.0.2/x"):
        with pytest.raises(CallbackRefused):
            put(Callback(url, b"{}"))


@pytest.mark.parametrize("url", [
    "http://100.100.100.200/latest/meta-data", "http://100.64.0.1/", "http://169.254.169.254/latest/meta-data",
    "http://[fec0::1]/", "http://[2002:7f00:1::]:8080/done", "http://[64:ff9b::a9fe:a9fe]/",
    "http://[::ffff:10.0.0.1]/", "http://10.0.0.1/", "http://127.0.0.2:9/", "http://0x7f000002/",
])
def test_submit_refuses_a_callback_to_a_non_public_address(client, user, url):
    response = client.post("/judge0/submissions", json={"source_code": "print(1)", "language_id": 71,
                                                        "callback_url": url}, headers={"X-Auth-Token": user["key"]})
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert list(body) == ["callback_url"] and "not a public address" in body["callback_url"][0], body


def test_submit_accepts_a_callback_the_operator_allows(client, user, worker):
    response = client.post("/judge0/submissions", json={"source_code": "print(1)", "language_id": 71,
                                                        "callback_url": "http://127.0.0.1:9/done"},
                           headers={"X-Auth-Token": user["key"]})
    assert response.status_code == 201, response.get_data(as_text=True)


class _Receiver(BaseHTTPRequestHandler):
    paths: ClassVar[list[str]] = []

    def do_PUT(self):
        self.paths.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_host_that_changes_address_after_submit_is_refused_when_sending(app, client, user, worker):
    """As if DNS answered differently at send time (rebinding): the worker resolves and checks again,
    and never calls an address outside the allow-list, though something listens there."""
    from app.extensions import db
    from app.models import Judge0Submission

    server = HTTPServer(("0.0.0.0", 0), _Receiver)  # reachable at 127.0.0.2 too, were the worker to call it
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_port
        token = client.post("/judge0/submissions", headers={"X-Auth-Token": user["key"]}, json={
            "source_code": "import time; time.sleep(1.5); print(7)", "language_id": 71,
            "callback_url": f"http://127.0.0.1:{port}/accepted"}).get_json()["token"]
        execution_id = token.replace("-", "")
        with app.app_context():
            db.session.get(Judge0Submission, execution_id).callback_url = f"http://127.0.0.2:{port}/rebound"
            db.session.commit()
        deadline = time.monotonic() + 60
        refused = f"callback for {execution_id} refused: 127.0.0.2 resolves to 127.0.0.2"
        while refused not in worker["log"].read_text():
            assert time.monotonic() < deadline, "the worker never tried the callback"
            time.sleep(0.1)
        assert _Receiver.paths == []
    finally:
        server.shutdown()
