"""HTTP callbacks (Judge0's `callback_url`): a PUT when an execution finishes.

The worker makes the request, never user code. Addresses are checked after DNS resolution and
the connection goes to the checked address (no second lookup a rebinding DNS server could
answer differently): loopback, private, link-local, multicast and reserved addresses are refused
unless listed in CODESTUDIO_CALLBACK_ALLOWED_NETWORKS. Like Judge0: up to 3 tries, 5 s each,
retried only when no HTTP answer came back."""
from __future__ import annotations

import ipaddress
import logging
import os
import socket
from typing import Callable, NamedTuple
from urllib.parse import urlsplit

import urllib3
from celery import shared_task

from .routing import CALLBACK_TASK
from .store import Provided

log = logging.getLogger(__name__)

MAX_TRIES = 3
TIMEOUT_SECONDS = 5.0


class CallbackRefused(ValueError):
    """The URL is not one we may call."""


class Callback(NamedTuple):
    """A PUT to send: where, and the JSON body."""
    url: str
    body: bytes


# the service layer provides: execution id -> the callback to send, or None
callback_source: Provided[Callable[[str], Callback | None]] = Provided("callback source")


def allowed_networks() -> list:
    raw = os.environ.get("CODESTUDIO_CALLBACK_ALLOWED_NETWORKS", "")
    return [ipaddress.ip_network(n.strip(), strict=False) for n in raw.split(",") if n.strip()]


def _public(ip) -> bool:
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified or (ip.version == 6 and ip.ipv4_mapped is not None and not _public(ip.ipv4_mapped)))


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL with a host; raises CallbackRefused otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise CallbackRefused("callback_url must be an http(s) URL with a host and no credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise CallbackRefused("callback_url has an invalid port") from None
    return parts.scheme, parts.hostname, port


def resolve_allowed(host: str, port: int) -> str:
    """The first address of `host` we may connect to; every address must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise CallbackRefused(f"cannot resolve {host}: {exc}") from None
    networks = allowed_networks()
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for ip in addresses:
        if not _public(ip) and not any(ip in net for net in networks):
            raise CallbackRefused(f"{host} resolves to {ip}, a non-public address")
    return str(addresses[0])


def put(callback: Callback) -> int:
    """One PUT to the checked address; the HTTP status, or an exception if none came back."""
    scheme, host, port = check_url(callback.url)
    address = resolve_allowed(host, port)
    timeout = urllib3.Timeout(total=TIMEOUT_SECONDS)
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(address, port, timeout=timeout, retries=False, server_hostname=host,
                                           assert_hostname=host, cert_reqs="CERT_REQUIRED")
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    parts = urlsplit(callback.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    with pool:
        response = pool.urlopen("PUT", path, body=callback.body, redirect=False, headers={
            "Host": parts.netloc.rpartition("@")[2], "Content-Type": "application/json"})
        return response.status


@shared_task(bind=True, name=CALLBACK_TASK, max_retries=MAX_TRIES - 1, acks_late=True)
def send_callback(self, execution_id: str) -> None:
    callback = callback_source.get()(execution_id)
    if callback is None:
        return
    try:
        status = put(callback)
        log.info("callback for %s: HTTP %s", execution_id, status)
    except CallbackRefused as exc:
        log.warning("callback for %s refused: %s", execution_id, exc)
    except (OSError, urllib3.exceptions.HTTPError) as exc:  # no answer: try again, a bounded number of times
        if self.request.retries >= self.max_retries:
            log.warning("callback for %s failed after %d tries: %s", execution_id, MAX_TRIES, exc)
            return
        raise self.retry(exc=exc, countdown=1 + self.request.retries) from exc
