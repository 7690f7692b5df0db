"""Live runs over the WebSocket (GET /codestudio/live), as deployed (nginx in front of gunicorn),
with a real worker, nsjail and Redis: programs answered as they ask, in pipe and terminal modes."""
from __future__ import annotations

import time

import pytest
import requests

from tests.support.live_client import LiveClient

pytestmark = pytest.mark.usefixtures("worker")

DIALOGUE = """\
name = input("Name: ")
print(f"Hello, {name}!")
age = int(input("Age: "))
print(f"Next year you will be {age + 1}.")
"""

GUESS = """\
import random
secret = 1
turns = 0
while True:
    guess = int(input("guess? "))
    turns += 1
    if guess < secret:
        print("higher")
    elif guess > secret:
        print("lower")
    else:
        print(f"got it in {turns}")
        break
"""


def live(front, user, **kwargs) -> LiveClient:
    return LiveClient(front, key=user["key"], **kwargs)


@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "terminal"])
def test_python_input_dialogue(front, user, tty):
    client = live(front, user)
    client.start("python", DIALOGUE, tty=tty)
    client.until_output("Name: ")
    client.send(type="stdin", data="Ada\n")
    client.until_output("Age: ")
    assert "Hello, Ada!" in client.output()
    client.send(type="stdin", data="36\n")
    last, code = client.finish()
    assert last["type"] == "exit", last
    assert code == 1000
    assert "Next year you will be 37." in client.output()
    result = last["result"]
    assert result["status"] == "success"
    assert "Next year you will be 37." in result["stdout"]
    got = requests.get(f"{front.url}/codestudio/executions/{result['id']}", headers=user["headers"], timeout=10)
    assert got.json() == result


def answer_after(client: LiveClient, seen: int) -> str:
    def answered(frame) -> bool:
        return any(word in client.output()[seen:] for word in ("higher", "lower", "got it"))

    client.until(answered)
    return client.output()[seen:]


def test_guess_the_number_in_seven_turns(front, user):
    client = live(front, user)
    client.start("python", GUESS)
    low, high, turns, seen = 0, 100, 0, 0
    while "got it" not in client.output():
        client.until_output("guess? ", since=seen)
        seen = len(client.output())
        guess = (low + high) // 2
        client.send(type="stdin", data=f"{guess}\n")
        turns += 1
        answer = answer_after(client, seen)
        if "higher" in answer:
            low = guess + 1
        elif "lower" in answer:
            high = guess - 1
    assert turns == 7
    assert f"got it in {turns}" in client.output()
    last, code = client.finish()
    assert last["result"]["status"] == "success" and code == 1000


def test_first_chunk_arrives_before_the_program_ends(front, user):
    client = live(front, user)
    client.start("python", "import time\nprint('first', flush=True)\ntime.sleep(1)\nprint('second')\n")
    client.until_output("first")
    first_at = time.monotonic()
    client.until_output("second")
    assert time.monotonic() - first_at > 0.5
    last, _ = client.finish()
    assert last["result"]["stdout"] == "first\nsecond\n"
