"""Compile-time code runs under the caller's tier: a compiler runs the program's own code
(Template Haskell's runIO here), so a compile gets the language's compile limits lowered to
the tier's `compile_timeout` / `compile_memory_mb` (config/tiers.toml)."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from config.settings import load_tiers
from sandbox import registry
from tests.support.languages import installed, samples
from tests.support.polling import get_json, wait_until

pytestmark = pytest.mark.sandbox  # the database and Redis behind it do not matter: one CI pass

# Template Haskell: the code in $( ) runs inside ghc, at compile time
TH_MEMORY = """{-# LANGUAGE TemplateHaskell #-}
import Control.Exception (evaluate)
import qualified Data.ByteString as B
import Language.Haskell.TH (integerL, litE, runIO)

-- at compile time: 900 MB filled (every page touched)
main :: IO ()
main = print $(runIO (evaluate (B.replicate (900 * 1024 * 1024) 120)
                      >>= \\bs -> return (B.length bs `div` (1024 * 1024))) >>= litE . integerL . fromIntegral)
"""
TH_TIME = """{-# LANGUAGE TemplateHaskell #-}
import Control.Concurrent (threadDelay)
import Language.Haskell.TH (integerL, litE, runIO)

-- at compile time: 25 s asleep
main :: IO ()
main = print $(runIO (threadDelay 25000000 >> return 25) >>= litE . integerL)
"""


@pytest.mark.parametrize("tier", ["free", "enterprise"])
def test_stats_list_the_tiers_run_and_compile_limits(client, make_user, tier):
    user = make_user(tier)
    body = client.get("/codestudio/stats", headers=user["headers"]).get_json()
    config = load_tiers()[tier]
    assert body["tier"] == tier
    assert body["limits"] == {"timeout": config["max_timeout"], "memory_mb": config["max_memory_mb"],
                              "compile_timeout": config["compile_timeout"],
                              "compile_memory_mb": config["compile_memory_mb"]}


def _final(client, user, code: str, timeout: int, seconds: float = 90) -> dict:
    response = client.post("/codestudio/run", headers=user["headers"], json={
        "language": "haskell", "code": code, "wait": False, "limits": {"timeout": timeout, "memory_mb": 256}})
    assert response.status_code == 202, response.get_data(as_text=True)
    deadline, url = time.monotonic() + seconds, response.headers["Location"]

    def ended() -> dict | None:
        body = get_json(client, url, user["headers"], deadline)
        return body if body["status"] not in ("queued", "running") else None

    # a poll a second: the free tier's rate limit is 30 requests a minute
    return wait_until(ended, seconds, interval=1, what=f"{url} finished")


def _usage(app, execution_id: str) -> list[tuple]:
    from app.extensions import db
    from app.models import UsageRecord

    with app.app_context():
        return db.session.execute(sa.select(UsageRecord.status, UsageRecord.tier, UsageRecord.cpu_seconds).where(
            UsageRecord.execution_id == execution_id)).all()


@pytest.mark.parametrize("program, free_message, enterprise_stdout", [
    pytest.param(TH_MEMORY, "the compiler ran out of memory (512 MB)", "900\n", id="memory"),
    pytest.param(TH_TIME, "compilation exceeded its time limit (20 s)", "25\n", id="time", marks=pytest.mark.slow),
])
def test_compile_time_code_gets_the_tiers_compile_limits(app, client, make_user, worker, program, free_message,
                                                         enterprise_stdout):
    installed("haskell")
    free, enterprise = make_user("free"), make_user("enterprise")
    started = time.monotonic()
    stopped = _final(client, free, program, timeout=10)
    assert (stopped["status"], stopped["message"], stopped["stdout"]) == ("compile_error", free_message, ""), stopped
    assert time.monotonic() - started < 40  # stopped at the free tier's limits, not the language's (60 s)
    [(status, tier, cpu)] = _usage(app, stopped["id"])  # billed, once, for the CPU the compile used
    assert (status, tier) == ("compile_error", "free") and cpu > 0
    allowed = _final(client, enterprise, program, timeout=30)
    assert (allowed["status"], allowed["stdout"]) == ("success", enterprise_stdout), allowed
    [(status, tier, cpu)] = _usage(app, allowed["id"])
    assert (status, tier) == ("success", "enterprise") and cpu > 0


def _run_waited(client, user, body: dict):
    """POST a waited run; a 429 of the free tier's rate limit waits for its window once."""
    response = client.post("/codestudio/run", headers=user["headers"], json=body)
    if response.status_code == 429:  # the server says when its window opens again
        time.sleep(float(response.headers.get("Retry-After", "5")))
        response = client.post("/codestudio/run", headers=user["headers"], json=body)
    return response


def test_hello_world_compiles_on_the_free_tier_in_every_compiled_language(client, make_user, worker):
    """The free tier's compile caps still fit a legitimate program of every compiled language."""
    free = make_user("free")
    served = {lang["id"] for lang in client.get("/codestudio/languages").get_json() if lang["available"]}
    tried = []
    for lang in (lang for lang in registry() if lang.compile and lang.id in served):
        hello = samples(lang.id)["hello"]
        response = _run_waited(client, free, {"language": lang.id, "code": hello,
                                              "limits": {"timeout": 10, "memory_mb": 256}})
        body = response.get_json()
        assert response.status_code == 200 and body["status"] == "success", (lang.id, body)
        tried.append(lang.id)
    assert {"haskell", "kotlin", "java", "rust", "c"} <= set(tried), tried
