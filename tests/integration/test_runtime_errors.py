"""A failed run's `error` (app/services/runtime_errors.py) through the real stack: the program runs
in the jail, its stderr is recorded untouched, and the execution shows the exception read from it
(POST /codestudio/run, GET /codestudio/executions/<id>, the event stream's last event)."""
from __future__ import annotations

import pytest
import requests

from tests.support.live_client import read_event_stream
from tests.support.polling import wait_until

PYTHON_FAILS = "def ratio(a, b):\n    return a / b\n\nprint('start')\nprint(ratio(1, 0))\n"
FAILING = [
    pytest.param("python", PYTHON_FAILS, "ZeroDivisionError", "division by zero",
                 "ZeroDivisionError: division by zero", id="python"),
    pytest.param("python", "import json\njson.loads('{')\n", "json.decoder.JSONDecodeError",
                 "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
                 "json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: "
                 "line 1 column 2 (char 1)", id="python-dotted-name"),
    pytest.param("python", "print('a')\nx = (1 +\n", "SyntaxError", "'(' was never closed",
                 "SyntaxError: '(' was never closed", id="python-syntax"),
    pytest.param("javascript", "function read(o) {\n  return o.name;\n}\nconsole.log('start');\nread(null);\n",
                 "TypeError", "Cannot read properties of null (reading 'name')",
                 "TypeError: Cannot read properties of null (reading 'name')", id="javascript"),
    pytest.param("javascript", 'throw "boom";\n', "Uncaught", "boom", "boom", id="javascript-not-an-error"),
    pytest.param("typescript", "function parse(s: string): number {\n  const n = Number(s);\n"
                 "  if (Number.isNaN(n)) throw new RangeError(`not a number: ${s}`);\n  return n;\n}\n"
                 "console.log(parse('12x'));\n", "RangeError", "not a number: 12x",
                 "RangeError: not a number: 12x", id="typescript"),
    pytest.param("java", "public class Main {\n    static int ratio(int a, int b) { return a / b; }\n"
                 "    public static void main(String[] args) {\n        System.out.println(ratio(1, 0));\n    }\n}\n",
                 "java.lang.ArithmeticException", "/ by zero",
                 'Exception in thread "main" java.lang.ArithmeticException: / by zero', id="java"),
    pytest.param("java", "public class Main {\n    public static void main(String[] args) {\n        try {\n"
                 "            Integer.parseInt(\"abc\");\n        } catch (NumberFormatException e) {\n"
                 "            throw new IllegalStateException(\"config unreadable\", e);\n        }\n    }\n}\n",
                 "java.lang.IllegalStateException", "config unreadable",
                 'Caused by: java.lang.NumberFormatException: For input string: "abc"', id="java-caused-by"),
    pytest.param("kotlin", 'fun parseAge(s: String): Int {\n    val n = s.toInt()\n'
                 '    check(n >= 0) { "age must not be negative: $n" }\n    return n\n}\n\n'
                 'fun main() {\n    println(parseAge("-3"))\n}\n',
                 "java.lang.IllegalStateException", "age must not be negative: -3", "\tat MainKt.main(Main.kt:8)",
                 id="kotlin", marks=pytest.mark.slow),
]


def finished(client, user, language: str, code: str) -> dict:
    """The run's result; a compile that outlasts the request's wait (a cold kotlinc) is polled for."""
    response = client.post("/codestudio/run", json={"language": language, "code": code, "limits": {"timeout": 10}},
                           headers=user["headers"])
    assert response.status_code in (200, 202), response.get_data(as_text=True)
    url = f"/codestudio/executions/{response.get_json()['id']}"

    def final() -> dict | None:
        body = client.get(url, headers=user["headers"]).get_json()
        return body if body["status"] not in ("queued", "running") else None

    return response.get_json() if response.status_code == 200 else wait_until(final, 120, 0.5)


@pytest.mark.parametrize(("language", "code", "name", "message", "line"), FAILING)
def test_a_failed_run_shows_its_error_beside_its_untouched_stderr(client, user, worker, language, code, name,
                                                                  message, line):
    result = finished(client, user, language, code)
    assert result["status"] == "error", result
    error = result["error"]
    assert (error["name"], error["message"]) == (name, message), result
    assert line in error["traceback"]
    stderr = result["stderr"]
    assert all(traceback_line in stderr.split("\n") for traceback_line in error["traceback"])
    assert line in stderr  # stderr is the program's, not rewritten
    again = client.get(f"/codestudio/executions/{result['id']}", headers=user["headers"]).get_json()
    assert again["error"] == error and again["stderr"] == stderr


@pytest.mark.parametrize(("language", "code"), [
    ("python", "import sys\nprint('fine')\nprint('a warning', file=sys.stderr)\n"),
    ("javascript", "console.error('Error: not really');\nconsole.log('fine');\n"),
])
def test_a_successful_run_has_no_error(run, language, code):
    result = run(language, code)
    assert result["status"] == "success" and result["stderr"] and result["error"] is None, result


def test_a_failure_without_a_report_has_no_error(run):
    result = run("python", "import sys\nsys.exit('fatal: no input')\n")
    assert (result["status"], result["stderr"], result["error"]) == ("error", "fatal: no input\n", None)


@pytest.mark.parametrize(("language", "code"), [
    ("java", "public class Main {\n    public static void main(String[] args) {\n"
             "        int x = \"text\";\n    }\n}\n"),
    ("typescript", "const n: number = 'text';\nconsole.log(n);\n"),
])
def test_a_compile_error_has_no_error_its_output_is_the_compile_output(client, user, worker, language, code):
    result = finished(client, user, language, code)
    assert result["status"] == "compile_error" and result["compile_output"], result
    assert result["error"] is None


def test_a_language_without_a_format_has_no_error(run):
    result = run("ruby", "raise ArgumentError, 'bad'\n")
    assert result["status"] == "error" and "ArgumentError" in result["stderr"]
    assert result["error"] is None


def test_the_event_streams_last_event_carries_the_error(front, user, worker):
    response = requests.post(f"{front.url}/codestudio/run", json={"language": "python", "code": PYTHON_FAILS},
                             stream=True, timeout=60, headers={**user["headers"], "Accept": "text/event-stream"})
    events = list(read_event_stream(response))
    name, data = events[-1]
    assert name == "exit", events
    assert data["result"]["error"]["name"] == "ZeroDivisionError"
    assert "ZeroDivisionError: division by zero" in data["result"]["stderr"]
