"""Live runs over the WebSocket (GET /codestudio/live), as deployed (nginx in front of gunicorn),
with a real worker, nsjail and Redis: programs answered as they ask, in pipe and terminal modes."""
from __future__ import annotations

import time

import psutil
import pytest
import requests

from tests.support.live_client import LiveClient, execution
from tests.support.polling import wait_until

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


SCANF = """\
#include <stdio.h>
int main(void) {
    char name[64];
    int n;
    printf("Name: ");
    if (scanf("%63s", name) != 1) return 1;
    printf("Number: ");
    if (scanf("%d", &n) != 1) return 1;
    printf("%s doubled is %d\\n", name, 2 * n);
    return 0;
}
"""

SCANNER = """\
import java.util.Scanner;

public class Main {
    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        System.out.println("How many?");
        int count = in.nextInt();
        long sum = 0;
        for (int i = 0; i < count; i++) {
            System.out.println("Next:");
            sum += in.nextLong();
        }
        System.out.println("Sum: " + sum);
    }
}
"""

READLINE = """\
const readline = require("readline");
const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
rl.question("Color? ", (color) => {
  rl.question("Animal? ", (animal) => {
    console.log(`a ${color} ${animal}`);
    rl.close();
  });
});
"""


def test_c_scanf_prompts_without_newline_appear_at_once_in_terminal_mode(front, user):
    client = live(front, user)
    client.start("c", SCANF, tty=True)
    output = client.until_output("Name: ", timeout=60)
    assert "Number" not in output
    client.send(type="stdin", data="Grace\n")
    client.until_output("Number: ")
    client.send(type="stdin", data="21\n")
    last, code = client.finish()
    assert last["result"]["status"] == "success" and code == 1000
    assert "Grace doubled is 42" in client.output()
    assert "Grace\r\n" in client.output()  # the terminal echoes what was typed


def test_java_scanner_reads_numbers_as_they_come(front, user):
    client = live(front, user)
    client.start("java", SCANNER)
    client.until_output("How many?", timeout=90)
    client.send(type="stdin", data="3\n")
    seen = 0
    for number in (10, 20, 12):
        client.until_output("Next:", since=seen)
        seen = len(client.output())
        client.send(type="stdin", data=f"{number}\n")
    last, _ = client.finish()
    assert last["result"]["status"] == "success", last
    assert "Sum: 42" in client.output()


def test_node_readline_questions_in_terminal_mode(front, user):
    client = live(front, user)
    client.start("javascript", READLINE, tty=True)
    client.until_output("Color? ", timeout=60)
    client.send(type="stdin", data="green\n")
    client.until_output("Animal? ")
    client.send(type="stdin", data="heron\n")
    last, _ = client.finish()
    assert last["result"]["status"] == "success", last
    assert "a green heron" in client.output()


def test_signal_int_reaches_a_keyboard_interrupt_handler(front, user):
    client = live(front, user)
    client.start("python", "import time\ntry:\n    print('ready', flush=True)\n    time.sleep(30)\n"
                 "except KeyboardInterrupt:\n    print('caught INT')\n")
    client.until_output("ready")
    client.send(type="signal", signal="SIGINT")
    last, code = client.finish()
    assert "caught INT" in client.output()
    assert last["result"]["status"] == "success" and code == 1000


def test_signal_kill_ends_the_program(front, user):
    client = live(front, user)
    client.start("python", "import time\nprint('ready', flush=True)\ntime.sleep(30)\nprint('not reached')\n")
    client.until_output("ready")
    sent = time.monotonic()
    client.send(type="signal", signal="KILL")
    last, code = client.finish()
    assert time.monotonic() - sent < 5
    assert last["result"]["status"] == "error" and last["result"]["signal"] == "SIGKILL", last
    assert "not reached" not in client.output()


def test_eof_ends_the_programs_input(front, user):
    client = live(front, user)
    client.start("python", "import sys\nprint(len(sys.stdin.read()))\n", stdin="abc")
    client.send(type="stdin", data_b64="ZGVm")  # "def"
    client.send(type="eof")
    last, _ = client.finish()
    assert last["result"]["stdout"] == "6\n"


def usage_records(app, execution_id: str) -> list:
    from app.extensions import db
    from app.models import UsageRecord

    with app.app_context():
        rows = db.session.query(UsageRecord).filter_by(execution_id=execution_id).all()
        db.session.remove()
        return rows


def test_a_caller_that_disconnects_ends_its_run_at_once_billed_once(app, front, user):
    client = live(front, user)
    execution_id = client.start("python", "import time\nprint('ready', flush=True)\ntime.sleep(30)\n")
    client.until_output("ready")
    client.ws.sock.close()  # gone without a closing handshake
    left = time.monotonic()
    wait_until(lambda: execution(front, user, execution_id)["status"] != "running", 10, interval=0.05,
               what="the run to end")
    ended_within = time.monotonic() - left
    result = execution(front, user, execution_id)
    assert result["status"] == "stopped", result
    assert "disconnected" in (result["message"] or "")
    assert ended_within < 2.0, ended_within
    time.sleep(1)
    assert len(usage_records(app, execution_id)) == 1
    assert execution(front, user, execution_id) == result  # ended once


def test_another_users_live_execution_is_invisible(front, user, make_user):
    client = live(front, user)
    execution_id = client.start("python", "print('mine')")
    client.finish()
    other = make_user()
    response = requests.get(f"{front.url}/codestudio/executions/{execution_id}", headers=other["headers"], timeout=10)
    assert response.status_code == 404
    listed = requests.get(f"{front.url}/codestudio/executions", headers=other["headers"], timeout=10).json()
    assert execution_id not in [item["id"] for item in listed["items"]]


def api_memory(front) -> int:
    """Resident bytes of the API's gunicorn processes (the master and its workers)."""
    master = psutil.Process(front.processes[0].pid)
    return sum(process.memory_info().rss for process in [master, *master.children(recursive=True)])


def test_a_flood_of_output_is_cut_at_the_cap_and_the_api_holds_none_of_it(front, user):
    before = api_memory(front)
    client = live(front, user)
    client.start("python", "import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(100_000):\n"
                 "    sys.stdout.write(line)\n")  # 100 MB
    last, code = client.finish(timeout=120)
    assert last["type"] == "exit" and last["result"]["status"] == "output_limit", last
    assert last["result"]["truncated"]["stdout"] is True
    streamed = len(client.output())
    assert 0 < streamed < 20 * 1024 * 1024, streamed
    assert api_memory(front) - before < 64 * 1024 * 1024
