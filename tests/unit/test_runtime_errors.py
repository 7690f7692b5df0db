"""A failed run's error read from its stderr (app/services/runtime_errors.py). The samples in
stderr_samples/<format>/ are the stderr of the `.program` beside each, run on a host with
Python 3.11.2, Node.js v20.20.2, OpenJDK 17.0.15 and Kotlin 2.4.20."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.services import runtime_errors
from app.services.runtime_errors import (
    MAX_LINE_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_TRACEBACK_LINES,
    NOT_AN_ERROR,
    TAIL_CHARS,
    error_of,
    parse,
)
from sandbox import ExecutionStatus
from sandbox.registry import registry

SAMPLES = Path(__file__).with_name("stderr_samples")

EXPECTED: dict[tuple[str, str], tuple[str, str] | None] = {
    ("python", "zero"): ("ZeroDivisionError", "division by zero"),
    ("python", "chained"): ("RuntimeError", "startup failed"),
    ("python", "custom"): ("BadInput", "got -1"),
    ("python", "emptymsg"): ("RuntimeError", ""),
    ("python", "nomsg"): ("ValueError", ""),
    ("python", "kbd"): ("KeyboardInterrupt", ""),
    ("python", "jsondec"): ("json.decoder.JSONDecodeError",
                            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ("python", "importerr"): ("ModuleNotFoundError", "No module named 'numpy_not_here'"),
    ("python", "multiline"): ("ValueError", "first line\nsecond line"),
    ("python", "notes"): ("ValueError", "bad value\nwhile reading row 3"),
    ("python", "recursion"): ("RecursionError", "maximum recursion depth exceeded"),
    ("python", "syntax"): ("SyntaxError", "'(' was never closed"),
    ("python", "syntax2"): ("SyntaxError", "invalid syntax"),
    ("python", "indent"): ("IndentationError", "expected an indented block after function definition on line 1"),
    ("python", "group"): ("ExceptionGroup", "two failures (2 sub-exceptions)"),
    ("python", "thread"): ("OSError", "disk gone"),
    ("python", "unicode"): ("ValueError", "ünïcödé – ✓"),
    # a traceback printed by the program, which then exits non-zero: what follows reads as message
    ("python", "caught"): ("ZeroDivisionError", "division by zero\nrecovered"),
    ("python", "exitmsg"): None,
    ("node", "typeerr"): ("TypeError", "Cannot read properties of null (reading 'name')"),
    ("node", "refer"): ("ReferenceError", "undefinedVariable is not defined"),
    ("node", "syntax"): ("SyntaxError", "Unexpected token ';'"),
    ("node", "custom"): ("ValidationError", "age must be positive"),
    ("node", "customname"): ("ValidationError", "age must be positive"),
    ("node", "nomsg"): ("Error", ""),
    ("node", "multiline"): ("Error", "first line\nsecond line"),
    ("node", "props"): ("Error", "request failed"),
    ("node", "symbol"): ("TypeError", "bad handle"),
    ("node", "fs"): ("Error", "ENOENT: no such file or directory, open '/nonexistent/file.txt'"),
    ("node", "codename"): ("TypeError", "The argument 'encoding' is invalid encoding. Received 7"),
    ("node", "urlerr"): ("TypeError", "Invalid URL"),
    ("node", "argtype"): ("TypeError", "Cannot mix BigInt and other types, use explicit conversions"),
    ("node", "cause"): ("Error", "outer failure"),
    ("node", "nested"): ("Error", "config unreadable"),
    ("node", "aggregate"): ("AggregateError", "several failed"),
    ("node", "stack"): ("RangeError", "Maximum call stack size exceeded"),
    ("node", "reject"): ("Error", "async failure"),
    ("node", "asyncfn"): ("RangeError", "index out of range"),
    ("node", "rejectval"): ("UnhandledPromiseRejection", "This error originated either by throwing inside of an "
                            "async function without a catch block, or by rejecting a promise which was not handled "
                            'with .catch(). The promise rejected with the reason "42".'),
    ("node", "timer"): ("SyntaxError", "Expected property name or '}' in JSON at position 1"),
    ("node", "bracketed"): ("Error", "bad"),
    ("node", "caught"): ("TypeError", "Cannot read properties of null (reading 'x')"),
    ("node", "throwstr"): (NOT_AN_ERROR, "boom"),
    ("node", "throwint"): (NOT_AN_ERROR, "42"),
    ("node", "null"): (NOT_AN_ERROR, "null"),
    ("node", "undef"): (NOT_AN_ERROR, "undefined"),
    ("node", "throwobj"): (NOT_AN_ERROR, "{ code: 42, reason: 'nope' }"),
    ("node", "errlike"): (NOT_AN_ERROR, "{ name: 'HttpError', message: '404 not found' }"),
    ("node", "nullproto"): (NOT_AN_ERROR, "[Object: null prototype] {}"),
    ("node", "exitcode"): None,
    ("jvm", "java_zero"): ("java.lang.ArithmeticException", "/ by zero"),
    ("jvm", "java_array"): ("java.lang.ArrayIndexOutOfBoundsException", "Index 5 out of bounds for length 3"),
    ("jvm", "java_npe"): ("java.lang.NullPointerException",
                          'Cannot invoke "String.length()" because "<local1>" is null'),
    ("jvm", "java_caused"): ("java.lang.RuntimeException", "startup failed"),
    ("jvm", "java_wrapcause"): ("java.lang.RuntimeException", "java.io.IOException: disk gone"),
    ("jvm", "java_init"): ("java.lang.ExceptionInInitializerError", ""),
    ("jvm", "java_nomsg"): ("java.lang.UnsupportedOperationException", ""),
    ("jvm", "java_custom"): ("Main$InsufficientFunds", "balance 10 < 25"),
    ("jvm", "java_multiline"): ("java.lang.IllegalArgumentException", "first line\nsecond line"),
    ("jvm", "java_suppressed"): ("java.lang.RuntimeException", "primary"),
    ("jvm", "java_stack"): ("java.lang.StackOverflowError", ""),
    ("jvm", "java_oom"): ("java.lang.OutOfMemoryError", "Java heap space"),
    ("jvm", "java_thread"): ("java.lang.IllegalStateException", "worker died"),
    ("jvm", "java_exitcode"): None,
    ("jvm", "kotlin_check"): ("java.lang.IllegalStateException", "age must not be negative: -3"),
    ("jvm", "kotlin_custom"): ("ValidationError", "name is empty"),
    ("jvm", "kotlin_npe"): ("java.lang.NullPointerException", ""),
    ("jvm", "kotlin_numfmt"): ("java.lang.NumberFormatException", 'For input string: "12x"'),
}


def sample(error_format: str, name: str) -> str:
    return (SAMPLES / error_format / f"{name}.stderr").read_text()


def test_every_sample_has_its_program_and_an_expectation():
    on_disk = {(p.parent.name, p.stem) for p in SAMPLES.glob("*/*.stderr")}
    assert on_disk == set(EXPECTED)
    assert all((SAMPLES / fmt / f"{name}.program").is_file() for fmt, name in on_disk)


@pytest.mark.parametrize(("error_format", "name"), sorted(EXPECTED))
def test_each_sample_reads_as_its_exception(error_format, name):
    stderr = sample(error_format, name)
    error = parse(stderr, error_format)
    expected = EXPECTED[(error_format, name)]
    if expected is None:
        assert error is None
        return
    assert error is not None
    assert (error.name, error.message) == expected
    # the traceback is the report's own lines, in order, nothing invented (short of the cap's marker)
    lines = stderr.split("\n")
    assert 0 < len(error.traceback) <= MAX_TRACEBACK_LINES
    kept = [line for line in error.traceback if not line.endswith(" lines omitted ...")]
    first = lines.index(kept[0])
    assert all(line in lines[first:] for line in kept)
    assert error.traceback[-1].strip()


def test_a_python_chain_keeps_every_traceback_and_reports_the_last_exception():
    error = parse(sample("python", "chained"), "python")
    assert error is not None
    assert error.traceback[0] == "Traceback (most recent call last):"
    assert "KeyError: 'key'" in error.traceback
    assert "ValueError: bad config" in error.traceback
    assert error.traceback[-1] == "RuntimeError: startup failed"


def test_a_python_syntax_error_is_its_location_code_and_caret():
    error = parse(sample("python", "syntax"), "python")
    assert error is not None
    assert error.traceback == ('  File "/tmp/rterr/py/syntax.py", line 2', "    x = (1 +", "        ^",
                               "SyntaxError: '(' was never closed")


def test_a_node_report_runs_from_the_location_to_before_the_version_footer():
    error = parse(sample("node", "fs"), "node")
    assert error is not None
    assert error.traceback[:3] == ("node:fs:573", "  return binding.open(", "                 ^")
    assert "  code: 'ENOENT'," in error.traceback
    assert "    at node:internal/main/run_main_module:28:49 {" in error.traceback
    assert error.traceback[-1] == "}"
    assert not any(line.startswith("Node.js v") for line in error.traceback)


def test_a_node_error_with_a_cause_keeps_the_cause_in_its_traceback():
    error = parse(sample("node", "nested"), "node")
    assert error is not None
    assert '  [cause]: SyntaxError: Unexpected token \'o\', "nope" is not valid JSON' in error.traceback


def test_the_repls_uncaught_lines_read_too():
    # Node's REPL prints an uncaught error on one line, without frames
    error = parse("Uncaught TypeError: Cannot read properties of null (reading 'x')\n", "node")
    assert error is not None and error.name == "TypeError"
    assert error.message == "Cannot read properties of null (reading 'x')"
    error = parse("Uncaught 'boom'\n", "node")
    assert error is not None and (error.name, error.message) == (NOT_AN_ERROR, "'boom'")


def test_a_jvm_trace_keeps_its_caused_by_chain():
    error = parse(sample("jvm", "java_caused"), "jvm")
    assert error is not None
    assert error.traceback[0] == 'Exception in thread "main" java.lang.RuntimeException: startup failed'
    assert "Caused by: java.lang.IllegalStateException: config unreadable" in error.traceback
    assert error.traceback[-1] == "\t... 1 more"


def test_a_printed_jvm_trace_after_an_exit_reads_without_the_thread_line():
    stderr = sample("jvm", "java_caused").removeprefix('Exception in thread "main" ')
    error = parse("working...\n" + stderr + "giving up\n", "jvm")
    assert error is not None and (error.name, error.message) == ("java.lang.RuntimeException", "startup failed")
    assert error.traceback[-1] == "\t... 1 more"


def test_a_long_trace_keeps_its_head_and_tail_around_a_count_of_the_rest():
    stderr = sample("jvm", "java_stack")
    error = parse(stderr, "jvm")
    assert error is not None
    assert len(error.traceback) == MAX_TRACEBACK_LINES
    total = len(stderr.rstrip("\n").split("\n"))
    assert f"... {total - MAX_TRACEBACK_LINES + 1} lines omitted ..." in error.traceback
    assert error.traceback[0] == 'Exception in thread "main" java.lang.StackOverflowError'


def test_only_the_tail_of_a_large_stderr_is_read_and_the_result_is_capped():
    noise = ("x" * 99 + "\n") * 10_000  # 1 MB written before the failure
    long_message = "y" * (3 * MAX_MESSAGE_CHARS)
    stderr = noise + f'Exception in thread "main" java.lang.IllegalStateException: {long_message}\n' \
        + f"\tat Main.{'z' * (2 * MAX_LINE_CHARS)}(Main.java:1)\n"
    started = time.perf_counter()
    error = parse(stderr, "jvm")
    assert time.perf_counter() - started < 0.5
    assert error is not None and error.name == "java.lang.IllegalStateException"
    assert len(error.message) == MAX_MESSAGE_CHARS and error.message.endswith("…")
    assert all(len(line) <= MAX_LINE_CHARS for line in error.traceback)
    assert len(runtime_errors.tail_lines(stderr)[0]) < 100  # the window starts at a whole line


def test_many_short_lines_are_read_only_up_to_the_line_cap():
    stderr = "^\n" * 30_000 + sample("node", "typeerr")
    started = time.perf_counter()
    error = parse(stderr, "node")
    assert time.perf_counter() - started < 0.5
    assert error is not None and error.name == "TypeError"
    assert len(runtime_errors.tail_lines(stderr)) == runtime_errors.TAIL_LINES


def test_a_report_cut_off_before_its_window_is_not_guessed_at():
    stderr = sample("python", "zero")
    assert parse(stderr[: stderr.index("ZeroDivisionError")], "python") is None
    assert parse("Traceback (most recent call last):\n" + "  x\n" * TAIL_CHARS, "python") is None


@pytest.mark.parametrize("stderr", ["", "\n", "plain text\nmore\n", "Traceback (most recent call last):\n",
                                    "Error: something\n", "   at nowhere\n", "\t\n" * 5, "^\n^\n^\n"])
def test_text_that_is_no_report_reads_as_none(stderr):
    for error_format in runtime_errors.PARSERS:
        assert parse(stderr, error_format) is None


def test_the_field_is_null_unless_the_run_failed_in_a_language_with_a_format():
    stderr = sample("python", "zero")
    assert error_of(ExecutionStatus.ERROR, "python", stderr)["name"] == "ZeroDivisionError"  # type: ignore[index]
    assert error_of(ExecutionStatus.ERROR, "py3", stderr) is not None  # an alias names the language too
    assert error_of(ExecutionStatus.STOPPED, "python", sample("python", "kbd")) is not None
    for status in (ExecutionStatus.SUCCESS, ExecutionStatus.COMPILE_ERROR, ExecutionStatus.TIMEOUT,
                   ExecutionStatus.QUEUED, ExecutionStatus.INTERNAL_ERROR):
        assert error_of(status, "python", stderr) is None
    assert error_of(ExecutionStatus.ERROR, "ruby", stderr) is None
    assert error_of(ExecutionStatus.ERROR, "no-such-language", stderr) is None
    assert error_of(ExecutionStatus.ERROR, "python", None) is None


def test_languages_name_only_formats_there_is_a_parser_for():
    formats = {lang.id: lang.error_format for lang in registry() if lang.error_format}
    assert set(formats.values()) <= set(runtime_errors.PARSERS) == set(runtime_errors.MARKERS)
    assert {"python", "javascript", "typescript", "java", "kotlin"} <= set(formats)
