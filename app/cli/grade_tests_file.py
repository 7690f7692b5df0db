"""The tests file of `codestudio grade`, read within bounds: its size, how deep it nests and how
many values it holds once YAML aliases are followed (a few hundred bytes of anchors would
otherwise expand to gigabytes), so a hostile file ends in a one-line error, never a traceback."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, SequenceNode

from .. import jsonbody

MAX_FILE_BYTES = 8 << 20  # the API takes at most 8 MiB per request by default
MAX_NESTING = 32  # lists and mappings inside each other, aliases followed
MAX_VALUES = 100_000  # scalars, lists and mappings, aliases followed
FILE_DEFAULTS = ("language", "compare", "abs_tol", "rel_tol", "limits")


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader refusing documents nested deeper than MAX_NESTING or holding more than MAX_VALUES
    values once aliases are followed (each alias counts what it stands for)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:  # the composer recurses once per level
        if self.depth >= MAX_NESTING:
            raise ComposerError(None, None, f"nested deeper than {MAX_NESTING} levels", self.peek_event().start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_document(self, node: Node) -> Any:
        _measure(node, 1, {}, set())
        return super().construct_document(node)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return node.value
    if isinstance(node, MappingNode):
        return [item for pair in node.value for item in pair]
    return []


def _refuse(node: Node, problem: str) -> ComposerError:
    return ComposerError(None, None, problem, node.start_mark)


def _measure(node: Node, depth: int, measured: dict[int, tuple[int, int]], open_nodes: set[int]) -> tuple[int, int]:
    """(values, height) of node with aliases followed; an alias reaches a node already measured, so
    this takes time linear in the file, and recursion never goes deeper than MAX_NESTING."""
    if id(node) in measured:
        values, height = measured[id(node)]
    elif id(node) in open_nodes:
        raise _refuse(node, "an alias refers to a value that contains it")
    else:
        open_nodes.add(id(node))
        values, height = 1, 1
        for child in _children(node):
            child_values, child_height = _measure(child, depth + 1, measured, open_nodes)
            values, height = values + child_values, max(height, child_height + 1)
            if values > MAX_VALUES:
                raise _refuse(node, f"holds more than {MAX_VALUES} values once its aliases are followed")
        open_nodes.discard(id(node))
        measured[id(node)] = values, height
    if depth + height - 1 > MAX_NESTING:
        raise _refuse(node, f"nested deeper than {MAX_NESTING} levels once its aliases are followed")
    return values, height


def _one_line(exc: Exception) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = " ".join(filter(None, (exc.context, exc.problem)))
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return " ".join(str(exc).split())


def _read(path: Path) -> str:
    with open(path, "rb") as file:  # not a size from stat: a FIFO or a device has none
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES >> 20} MiB")
    return data.decode("utf-8")


def _parse(path: Path) -> Any:
    text = _read(path)
    return jsonbody.loads(text) if path.suffix.lower() == ".json" else yaml.load(text, Loader=BoundedLoader)


def _check_test(test: Any, number: int) -> dict[str, Any]:
    if not isinstance(test, dict) or "name" not in test or "expected_output" not in test:
        raise click.BadParameter(f"test #{number} must be a mapping with `name` and `expected_output`",
                                 param_hint="--tests")
    test = dict(test)
    for field in ("name", "stdin", "expected_output"):
        value = test.get(field, "")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            test[field] = str(value)  # YAML reads `expected_output: 3` as a number
        elif not isinstance(value, str):
            raise click.BadParameter(f"test #{number}: {field} must be text", param_hint="--tests")
    return test


def load_tests(path: Path) -> tuple[list[dict], dict]:
    """The tests and the file's defaults: a list of tests, or a mapping with `tests:` and defaults."""
    try:
        data = _parse(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:  # UnicodeDecodeError and JSONDecodeError too
        raise click.BadParameter(f"cannot read {path}: {_one_line(exc)}", param_hint="--tests") from None
    defaults = {}
    if isinstance(data, dict):
        unknown = ", ".join(sorted(map(str, set(data) - {"tests", *FILE_DEFAULTS})))
        if unknown or "tests" not in data or not isinstance(data.get("limits", {}), dict):
            raise click.BadParameter(f"{path}: a mapping needs `tests:` and may set {', '.join(FILE_DEFAULTS)} "
                                     f"(limits: a mapping){f'; unknown: {unknown}' if unknown else ''}",
                                     param_hint="--tests")
        data, defaults = data["tests"], {k: data[k] for k in FILE_DEFAULTS if k in data}
    if not isinstance(data, list) or not data:
        raise click.BadParameter(f"{path}: expected a non-empty list of tests", param_hint="--tests")
    return [_check_test(test, i) for i, test in enumerate(data, 1)], defaults
