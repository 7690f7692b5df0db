"""Request bodies as JSON, for every API (native, Judge0, Piston): nesting is bounded before the
standard library parses, so a body of `[` × 100000 is malformed input (an error in the API's own
shape), never a RecursionError; so are numbers Python refuses to parse (over 4300 digits)."""
from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from flask import request

MAX_DEPTH = 64  # arrays and objects inside each other; no request of ours needs more than a few
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # brackets inside strings do not nest
_BRACKETS = b"[]{}"
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 / -1 as signed bytes
_NOT_BRACKETS = bytes(set(range(256)) - set(_BRACKETS))


def too_deep(raw: bytes) -> bool:
    """Whether the arrays and objects of a JSON text nest deeper than MAX_DEPTH."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return False  # it cannot nest deeper than it opens
    steps = _STRINGS.sub(b"", raw).translate(_STEPS, _NOT_BRACKETS)
    return max(accumulate(memoryview(steps).cast("b")), default=0) > MAX_DEPTH  # C speed, also for megabytes


def loads(data: bytes | str) -> Any:
    """json.loads with the nesting bound; every refusal is a json.JSONDecodeError (a ValueError)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if too_deep(raw):
        raise json.JSONDecodeError(f"JSON nested deeper than {MAX_DEPTH} levels", "(body)", 0)
    try:
        return json.loads(data)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as exc:  # not UTF-8, or an integer over Python's digit limit
        raise json.JSONDecodeError(str(exc), "(body)", 0) from None


def request_json() -> Any:
    """The JSON body of the current request, or None when it sends none (or not as JSON);
    raises json.JSONDecodeError when the body is not JSON we accept."""
    if not request.is_json:
        return None
    data = request.get_data(cache=True)
    return loads(data) if data else None
