"""Rate limits hold across the API's processes: failed authentication never makes flask-limiter
believe its storage is down (which would switch every process to its own in-memory counters),
while a real storage outage still is reported. Through the deployed front (nginx + 2 gunicorn
processes), so per-process counters would show."""
from __future__ import annotations

import logging

import requests

from app.ratelimit import limiter


def _window_entries(app, user_id: str) -> int:
    """Requests counted in Redis for the user's shared window (a moving window keeps one entry each)."""
    client = app.extensions["redis"]
    keys = list(client.scan_iter(match=f"*user:{user_id}*"))
    assert keys, "the user's window is not in Redis"
    return sum(client.llen(key) for key in keys if client.type(key) == b"list")


def test_bad_keys_leave_the_shared_limit_in_place(app, front, make_user):
    for _ in range(4):  # a bad key, and none at all
        assert requests.get(front.url + "/codestudio/stats", headers={"Authorization": "Bearer nope"},
                            timeout=5).status_code == 401
        assert requests.get(front.url + "/codestudio/stats", timeout=5).status_code == 401
    user = make_user("free")  # 30 requests a minute
    statuses = [requests.get(front.url + "/codestudio/stats", headers=user["headers"], timeout=5).status_code
                for _ in range(60)]
    assert (statuses.count(200), statuses.count(429)) == (30, 30)
    assert statuses[:30] == [200] * 30
    assert _window_entries(app, user["id"]) == 30


def test_requests_without_a_valid_key_share_a_limit_per_address_they_cannot_spoof(front):
    allowed = 120  # ANONYMOUS_REQUESTS_PER_MINUTE's default
    statuses = []
    with socket_from("127.0.0.11") as session:  # an address of this test's own
        for attempt in range(allowed + 3):  # the forwarded-for header claims another address each time
            statuses.append(session.get(
                front.url + "/codestudio/stats", timeout=5,
                headers={"Authorization": f"Bearer guess-{attempt}", "X-Forwarded-For": f"198.51.100.{attempt}"},
            ).status_code)
    assert statuses[:allowed] == [401] * allowed
    assert statuses[allowed:] == [429] * 3


def test_a_real_storage_outage_is_still_reported(app_with, make_user, caplog):
    broken = app_with(RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    user = make_user()
    limiter_log = logging.getLogger("flask-limiter")
    limiter_log.addHandler(caplog.handler)
    limiter_log.disabled = False  # the migrations' logging setup disables loggers it did not name
    try:
        response = broken.test_client().get("/codestudio/stats", headers=user["headers"])
        assert response.status_code == 200  # answered, on the per-process fallback
        assert limiter._storage_dead
        assert "falling back to in-memory storage" in caplog.text
    finally:
        limiter_log.removeHandler(caplog.handler)
        limiter._storage_dead = False  # the module-wide limiter goes back to the session's Redis


class socket_from:
    """A requests session whose connections leave from `source` (a loopback address)."""

    def __init__(self, source: str):
        self.source = source

    def __enter__(self) -> requests.Session:
        session = requests.Session()
        session.mount("http://", _SourceAdapter(self.source))
        self.session = session
        return session

    def __exit__(self, *exc) -> None:
        self.session.close()


class _SourceAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, source: str):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)
