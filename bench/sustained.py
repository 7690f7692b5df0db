"""Compiled languages under sustained traffic (issue 20: Java and Kotlin): hello world end to end
(compile + run) through the API, (a) paced: one request a second, each sent on schedule whether or
not the ones before have answered; (b) back to back: N clients, each sending its next request as
soon as its last one answered. Every request's source differs (a comment), as real ones do, so no
compile can be reused."""
from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from .languages import api_once, hello


@dataclass
class Latencies:
    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: int = 0  # paced requests not sent: too many were still unanswered
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, session: requests.Session, url: str, key: str, lang_id: str, n: int) -> None:
        """One compile-and-run; a failure is counted (and its first words kept), not raised."""
        try:
            took = api_once(session, url, key, lang_id, f"// request {n}\n{hello(lang_id)}")
        except (AssertionError, requests.RequestException, ValueError) as exc:
            body = exc.args[0] if exc.args else None  # api_once's assertion carries the answer
            reason = f"{body.get('status')}: {body.get('message')}" if isinstance(body, dict) else str(exc)
            with self.lock:
                self.failures.append(reason[:200])
            return
        with self.lock:
            self.seconds.append(took)


def paced(url: str, key: str, lang_id: str, seconds: float, interval: float = 1.0, backlog: int = 8) -> Latencies:
    """One request every `interval` seconds for `seconds`; returns once every one has answered.
    A request due while `backlog` are unanswered is not sent (counted as skipped): a service that
    cannot keep up would otherwise leave a queue that takes minutes to drain."""
    found, count = Latencies(), max(1, int(seconds / interval))

    def one(n: int) -> None:
        with requests.Session() as session:
            found.request(session, url, key, lang_id, n)

    start, pending = time.monotonic(), list[Future[None]]()
    with ThreadPoolExecutor(backlog) as pool:
        for n in range(count):
            time.sleep(max(0.0, start + n * interval - time.monotonic()))
            pending = [future for future in pending if not future.done()]
            if len(pending) >= backlog:
                found.skipped += 1
                continue
            pending.append(pool.submit(one, n))
    return found


def back_to_back(url: str, key: str, lang_id: str, clients: int, seconds: float, most: int) -> Latencies:
    """`clients` clients back to back until `seconds` have passed or `most` requests were sent."""
    found, numbers, stop_at = Latencies(), itertools.count(), time.monotonic() + seconds

    def client(_: int) -> None:
        with requests.Session() as session:
            while time.monotonic() < stop_at:
                with found.lock:
                    n = next(numbers)
                if n >= most:
                    return
                found.request(session, url, key, lang_id, n)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return found
