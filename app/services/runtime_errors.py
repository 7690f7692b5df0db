"""A failed run's error read from its stderr: `{name, message, traceback}` (the shape Jupyter and
E2B give), for the languages whose `error_format` (sandbox/languages.toml) names a parser here.
Pure and bounded: only the last TAIL_CHARS (and TAIL_LINES) of stderr are read, a stderr without
the format's markers is not split at all, and what comes back is capped.

name is the exception's class as the runtime prints it (`ZeroDivisionError`,
`json.decoder.JSONDecodeError`, `java.lang.ArithmeticException`); message its text ("" when it has
none); traceback the stderr lines of the report. A chain reports its last Python exception (the
one that ended the program) and its outermost JVM one (the `Caused by:` lines stay in the
traceback); a JavaScript value thrown that is not an Error has the name `Uncaught`."""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox import ExecutionStatus
from sandbox.registry import UnknownLanguage, registry

TAIL_CHARS = 64 * 1024
TAIL_LINES = 2000  # and of those, the last lines only (a JVM stack overflow's trace is ~1,030)
MAX_TRACEBACK_LINES = 200
MAX_LINE_CHARS = 1000
MAX_MESSAGE_CHARS = 4096
# the program ended itself by failing (a timeout or an output flood kills it mid-sentence)
PARSED_STATUSES = frozenset({ExecutionStatus.ERROR, ExecutionStatus.MEMORY_LIMIT, ExecutionStatus.STOPPED})
NOT_AN_ERROR = "Uncaught"  # the name of a thrown JavaScript value that is not an Error


@dataclass(frozen=True)
class ProgramError:
    name: str
    message: str
    traceback: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "message": self.message, "traceback": list(self.traceback)}


@dataclass(frozen=True)
class _Found:
    """What a parser found in the tail's lines: the report is lines[start:end]."""
    name: str
    message: str
    start: int
    end: int


def error_of(status: str | None, language: str | None, stderr: str | None) -> dict[str, Any] | None:
    """An execution's `error` field: None unless it failed and its stderr holds a report we read."""
    if status not in PARSED_STATUSES or not language or not stderr:
        return None
    try:
        error_format = registry().get(language).error_format
    except UnknownLanguage:
        return None
    found = parse(stderr, error_format)
    return found.as_dict() if found else None


def parse(stderr: str, error_format: str) -> ProgramError | None:
    parser = PARSERS.get(error_format)
    if parser is None or not stderr:
        return None
    tail = stderr[-TAIL_CHARS:]
    if not any(marker in tail for marker in MARKERS[error_format]):
        return None
    lines = tail_lines(stderr)
    found = parser(lines)
    if found is None:
        return None
    return ProgramError(found.name, _cut(found.message, MAX_MESSAGE_CHARS), _bounded(lines[found.start:found.end]))


def tail_lines(stderr: str) -> list[str]:
    """The last TAIL_LINES lines of stderr's last TAIL_CHARS (a line cut by the start of the window
    is dropped)."""
    text = stderr[-TAIL_CHARS:]
    if len(stderr) > TAIL_CHARS:
        text = text.partition("\n")[2]
    return [line.removesuffix("\r") for line in text.split("\n")[-TAIL_LINES:]]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _bounded(lines: Sequence[str]) -> tuple[str, ...]:
    """At most MAX_TRACEBACK_LINES: the head (where JVM and Node name the error) and the tail
    (where Python does) around a line saying how many were left out."""
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if len(lines) > MAX_TRACEBACK_LINES:
        half = MAX_TRACEBACK_LINES // 2
        omitted = len(lines) - 2 * half + 1
        lines = [*lines[:half], f"... {omitted} lines omitted ...", *lines[-half + 1:]]
    return tuple(_cut(line, MAX_LINE_CHARS) for line in lines)


def _last(lines: Sequence[str], pattern: re.Pattern[str], before: int | None = None) -> int | None:
    for i in range(len(lines) - 1 if before is None else before - 1, -1, -1):
        if pattern.match(lines[i]):
            return i
    return None


# --- Python -----------------------------------------------------------------------------------

PY_HEADER = re.compile(r"(?:  \+ )?(?:Exception Group )?Traceback \(most recent call last\):$")
PY_CHAINS = ("The above exception was the direct cause of the following exception:",
             "During handling of the above exception, another exception occurred:")
PY_EXCEPTION = re.compile(r"(?P<name>[^\W\d][\w.]*)(?:: (?P<message>.*))?$")
PY_SYNTAX = re.compile(r"(?:SyntaxError|IndentationError|TabError)(?::|$)")
PY_COMPILE_LOCATION = re.compile(r'  File "[^"]*", line \d+$')  # a frame has ", in <scope>" too
PY_GROUP_PREFIX = re.compile(r"  [+|] ")


def _python(lines: list[str]) -> _Found | None:
    """The last traceback block (a SyntaxError in an imported module or in exec() is one too);
    without one, a program that did not compile."""
    header = _last(lines, PY_HEADER)
    found = _python_traceback(lines, header) if header is not None else None
    return found or _python_syntax_error(lines)


def _python_traceback(lines: list[str], header: int) -> _Found | None:
    """The block from `header`: indented frames, then the exception's line and its message's
    further lines (to the end: Python's report of an uncaught exception is its last output)."""
    group = lines[header].startswith("  + ")
    for i in range(header + 1, len(lines)):
        line = lines[i]
        if group:
            if not PY_GROUP_PREFIX.match(line):
                return None
            line = line[4:]
        if not line.strip() or line[0].isspace():
            continue
        match = PY_EXCEPTION.match(line)
        if match is None:
            return None
        rest = [] if group else lines[i + 1:]
        message = "\n".join([match["message"] or "", *rest]).rstrip()
        return _Found(match["name"], message, _python_chain_start(lines, header), len(lines))
    return None


def _python_chain_start(lines: list[str], header: int) -> int:
    """The first traceback of the chain that ends with the block at `header`."""
    start = header
    while start >= 3 and lines[start - 1] == "" and lines[start - 2] in PY_CHAINS and lines[start - 3] == "":
        previous = _last(lines, PY_HEADER, before=start - 3)
        if previous is None:
            break
        start = previous
    return start


def _python_syntax_error(lines: list[str]) -> _Found | None:
    """A program that does not compile: `  File "...", line N`, the code and its caret, then the
    error; no `Traceback` line."""
    error = _last(lines, PY_SYNTAX)
    if error is None:
        return None
    for start in range(error - 1, max(error - 5, -1), -1):
        if PY_COMPILE_LOCATION.match(lines[start]):
            name, _, message = lines[error].partition(":")
            return _Found(name, "\n".join([message.strip(), *lines[error + 1:]]).rstrip(), start, len(lines))
        if not lines[start].startswith(" "):
            return None
    return None


# --- Node.js (JavaScript, TypeScript) ----------------------------------------------------------

NODE_FOOTER = re.compile(r"Node\.js v\d+\.\d+\.\d+$")
NODE_LOCATION = re.compile(r"\S.*:\d+$")  # /work/main.js:3, node:internal/fs/utils:158, file:///...:1
NODE_CARET = re.compile(r"\s*\^+\s*$")
JS_ERROR = re.compile(r"(?:Uncaught )?(?P<name>[A-Za-z_$][\w$.]*)(?: \[[^\]]+\])?(?:: (?P<message>.*))?$")
JS_BRACKETED = re.compile(r"\[(?P<name>[A-Za-z_$][\w$.]*)(?:: (?P<message>.*))?\](?: \{.*)?$")  # no stack
JS_UNCAUGHT = re.compile(r"Uncaught (?P<value>.*)$")  # the REPL's and the inspector's shape
JS_FRAME = re.compile(r"\s+(?:at |\.\.\. \d+ lines? matching)")
JS_TOP_FRAME = re.compile(r"    at ")
NODE_HINT = "(Use `node --trace-uncaught"


def _node(lines: list[str]) -> _Found | None:
    """Node's report of an uncaught exception: `file:line`, the code, a caret; then, after a
    blank line, the Error as util.inspect prints it (its frames, then `{ code: ..., [cause]: ...
    }` if it has more), or right after the caret a thrown value that is not an Error. Without that
    report: the last Error printed with its frames (`console.error(err); process.exit(1)`)."""
    footer = _last(lines, NODE_FOOTER)
    end = footer if footer is not None else len(lines)
    for caret in range(end - 1, 1, -1):
        if NODE_CARET.match(lines[caret]) and NODE_LOCATION.match(lines[caret - 2]):
            return _node_report(lines, caret - 2, caret + 1, end)
    return _node_printed(lines)


def _node_report(lines: list[str], start: int, body: int, end: int) -> _Found:
    if body + 1 < end and lines[body] == "":
        match = JS_ERROR.match(lines[body + 1]) or JS_BRACKETED.match(lines[body + 1])
        if match is not None:
            message = [match["message"] or ""]
            for line in lines[body + 2:end]:
                if JS_FRAME.match(line) or not line.strip() or line[0].isspace() or line == "}":
                    break
                message.append(line)
            return _Found(match["name"], "\n".join(message), start, end)
    value = [line for line in lines[body:end] if not line.startswith(NODE_HINT)]
    return _Found(NOT_AN_ERROR, "\n".join(value).strip(), start, end)


def _node_printed(lines: list[str]) -> _Found | None:
    for i in range(len(lines) - 1, -1, -1):
        if (uncaught := JS_UNCAUGHT.match(lines[i])) is not None:
            match = JS_ERROR.match(uncaught["value"])
            if match is None:
                return _Found(NOT_AN_ERROR, uncaught["value"], i, i + 1)
            return _Found(match["name"], match["message"] or "", i, _node_frames_end(lines, i + 1))
        if i and JS_TOP_FRAME.match(lines[i]) and (match := JS_ERROR.match(lines[i - 1])):
            return _Found(match["name"], match["message"] or "", i - 1, _node_frames_end(lines, i))
    return None


def _node_frames_end(lines: list[str], end: int) -> int:
    """Past the frames from `end`, and past the error's own properties (`{ ... }`) after them."""
    while end < len(lines) and JS_FRAME.match(lines[end]):
        end += 1
    if lines[end - 1].endswith(" {"):
        while end < len(lines) and lines[end] != "}":
            end += 1
        end = min(end + 1, len(lines))
    return end


# --- JVM (Java, Kotlin) -----------------------------------------------------------------------

JVM_UNCAUGHT = re.compile(r'Exception in thread "[^"]*" (?P<rest>.*)$')
JVM_EXCEPTION = re.compile(r"(?P<name>[^\W\d][\w$]*(?:\.[^\W\d][\w$]*)*)(?:: (?P<message>.*))?$")
JVM_TRACE = re.compile(r"\s+(?:at |\.\.\. \d+ more|Suppressed: )|Caused by: ")
JVM_FRAME = re.compile(r"\s+(?:at |\.\.\. \d+ more)")


def _jvm(lines: list[str]) -> _Found | None:
    """`Exception in thread "main" java.lang.X: message`, its frames and its `Caused by:` chain;
    or a trace printed after it or without it (`e.printStackTrace(); System.exit(1)`)."""
    header = _last(lines, JVM_UNCAUGHT)
    found = None
    if header is not None and (uncaught := JVM_UNCAUGHT.match(lines[header])):
        found = _jvm_block(lines, header, uncaught["rest"])
    printed = _jvm_printed(lines, after=found.end - 1 if found else -1)
    return _jvm_block(lines, printed, lines[printed]) if printed is not None else found


def _jvm_printed(lines: list[str], after: int) -> int | None:
    for i in range(len(lines) - 2, after, -1):
        if lines[i + 1].startswith("\tat ") and JVM_EXCEPTION.match(lines[i]):
            return i
    return None


def _jvm_block(lines: list[str], start: int, first: str) -> _Found | None:
    match = JVM_EXCEPTION.match(first)
    if match is None:
        return None
    end = start + 1
    while end < len(lines) and lines[end] and not JVM_TRACE.match(lines[end]):
        end += 1
    message = "\n".join([match["message"] or "", *lines[start + 1:end]])
    while end < len(lines) and lines[end]:
        # a `Caused by:` or `Suppressed:` message may run over lines too; a frame ends it
        if not JVM_TRACE.match(lines[end]) and JVM_FRAME.match(lines[end - 1]):
            break
        end += 1
    return _Found(match["name"], message, start, end)


PARSERS: dict[str, Callable[[list[str]], _Found | None]] = {"python": _python, "node": _node, "jvm": _jvm}
# text every report of the format has (a SyntaxError's too): a stderr without any is not read further
MARKERS = {"python": ("Traceback (most recent call last):", "Error"), "node": ("^", "    at ", "Uncaught "),
           "jvm": ("\tat ", 'Exception in thread "')}
