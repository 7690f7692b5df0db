"""HTTP callbacks (Judge0's `callback_url`): a PUT when an execution finishes.

The worker makes the request, never user code. The host is checked when the submission is
accepted and again here, after DNS resolution, and the connection goes to the checked address
(no second lookup a rebinding DNS server could answer differently): only globally routable
addresses, unless listed in CODESTUDIO_CALLBACK_ALLOWED_NETWORKS (tasks/callback_addresses.py).
Like Judge0: up to 3 tries, 5 s each, retried only when no HTTP answer came back."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

import urllib3

from .callback_addresses import CallbackRefused, resolve_allowed
from .celery_typing import BoundTask, bound_task
from .ports import Callback, ports
from .routing import CALLBACK_TASK

log = logging.getLogger(__name__)

MAX_TRIES = 3
TIMEOUT_SECONDS = 5.0


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


def check_destination(url: str) -> None:
    """The URL's form and where its host leads now (at submit; checked again when sending)."""
    _, host, port = check_url(url)
    resolve_allowed(host, port)


def put(callback: Callback) -> int:
    """One PUT to the checked address; the HTTP status, or an exception if none came back."""
    scheme, host, port = check_url(callback.url)
    address = resolve_allowed(host, port)
    timeout = urllib3.Timeout(total=TIMEOUT_SECONDS)
    pool: urllib3.HTTPConnectionPool
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


@bound_task(name=CALLBACK_TASK, max_retries=MAX_TRIES - 1, acks_late=True)
def send_callback(self: BoundTask, execution_id: str) -> None:
    callback = ports().callback_for(execution_id)
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
