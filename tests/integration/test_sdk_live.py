"""Live runs through the SDK (AsyncClient.live) against the deployed stack: typed events, input
answered as the program asks, bytes and end of input, signals, terminal size, refusals."""
from __future__ import annotations

import pytest
from codestudio_client import AsyncClient, Client, Exit, Failed, Output, Stage, Unauthorized, UnknownLanguage

from tests.support.sdk_clients import run

pytestmark = pytest.mark.usefixtures("worker")

DIALOGUE = """\
word = input("Word? ")
times = int(input("Times? "))
print(" ".join([word] * times))
"""
BYTES = "import sys\ndata = sys.stdin.buffer.read()\nprint(len(data), data.hex())\n"
SIZES = "import os\nprint('size', *os.get_terminal_size())\ninput()\nprint('size', *os.get_terminal_size())\n"
SLEEPER = "import time\nprint('ready', flush=True)\ntime.sleep(30)\n"


async def finish(live) -> tuple[list, Exit]:
    """Every event to the end; the last must be Exit."""
    events = [event async for event in live]
    assert isinstance(events[-1], Exit), events[-5:]
    return events, events[-1]


def test_a_live_run_answers_input_as_the_program_asks(front, user):
    async def scenario():
        async with AsyncClient(front.url, user["key"]) as api, api.live("python", DIALOGUE) as live:
            assert live.execution_id
            answers = {"Word? ": "echo\n", "Times? ": "3\n"}
            stdout, stages = "", []
            async for event in live:
                if isinstance(event, Output) and event.stream == "stdout":
                    stdout += event.data
                    for prompt in [p for p in answers if stdout.endswith(p)]:
                        await live.send_stdin(answers.pop(prompt))
                elif isinstance(event, Stage):
                    stages.append((event.stage, event.state))
                elif isinstance(event, Exit | Failed):
                    last = event
            assert isinstance(last, Exit) and last.execution.ok and not answers, last
            assert stdout == "Word? Times? echo echo echo\n"
            assert ("run", "start") in stages and ("run", "end") in stages
            assert live.result == last.execution and last.execution.id == live.execution_id
            assert (await api.get_execution(live.execution_id)).status == "success"

    run(scenario())


def test_bytes_end_of_input_kill_and_terminal_size(front, user):
    async def scenario():
        async with AsyncClient(front.url, user["key"]) as api:
            async with api.live("python", BYTES) as live:
                await live.send_stdin(b"\x00\xffab")
                await live.close_stdin()
                _, done = await finish(live)
            assert done.execution.stdout == "4 00ff6162\n", done

            async with api.live("python", SLEEPER) as live:
                async for event in live:
                    if isinstance(event, Output) and "ready" in event.data:
                        await live.kill()
                    if isinstance(event, Exit):
                        assert (event.execution.status, event.execution.signal) == ("error", "SIGKILL"), event

            async with api.live("python", SIZES, tty=True, cols=100, rows=30) as live:
                output, resized = "", False
                async for event in live:
                    output += event.data if isinstance(event, Output) and event.stream == "output" else ""
                    if "size 100 30" in output and not resized:
                        resized = True
                        await live.resize(120, 40)
                        await live.send_stdin("\n")
            assert "size 100 30" in output and "size 120 40" in output, output

    run(scenario())


def test_a_blocking_client_runs_live_too(front, user):
    with Client(front.url, user["key"]) as api:
        with api.live("python", DIALOGUE, stdin="blocking\n") as live:
            for event in live:
                if isinstance(event, Output) and event.data.endswith("Times? "):
                    live.send_stdin(b"2\n")
                    live.close_stdin()
        assert live.result is not None and live.result.stdout == "Word? Times? blocking blocking\n", live.result
        with pytest.raises(UnknownLanguage), api.live("klingon", "print(1)"):
            pass


def test_refusals_raise_typed_errors(front, user):
    async def scenario():
        async with AsyncClient(front.url, "cs_not-a-key") as api:
            with pytest.raises(Unauthorized):
                async with api.live("python", "print(1)"):
                    pass
        async with AsyncClient(front.url, user["key"]) as api:
            with pytest.raises(UnknownLanguage) as unknown:
                async with api.live("klingon", "print(1)"):
                    pass
            assert unknown.value.code == "unknown_language"

    run(scenario())
