"""Where Judge0 callbacks may go, judged without a server: globally routable addresses only (with
what 6to4, NAT64 and IPv4-mapped addresses carry judged too), an operator's allow-list, a bounded
resolution, and the send path checking again (tests/integration/test_callback_addresses.py: the
same through the API and a worker)."""
from __future__ import annotations

import ipaddress
import socket
import time

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
        time.sleep(3)  # the point: a DNS answer that comes too late
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
