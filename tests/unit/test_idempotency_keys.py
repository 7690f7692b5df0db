"""Idempotency-Key values and request hashes (app/services/idempotency.py), without a database."""
from __future__ import annotations

from decimal import Decimal

import pytest

from app.errors import Problem
from app.services.idempotency import Scope, canonical, parse_key, request_hash
from app.services.run_request import Limits, RunRequest, SourceFile


@pytest.mark.parametrize("key", ["a", "x" * 255, "order 42/retry #1", "~!@{}"])
def test_printable_ascii_keys_of_1_to_255_characters_are_taken_as_sent(key):
    assert parse_key(key) == key


def test_no_header_is_no_key():
    assert parse_key(None) is None


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there", "del\x7f", "nul\x00", "line\n"])
def test_other_keys_are_refused_with_their_own_code(key):
    with pytest.raises(Problem) as refused:
        parse_key(key)
    assert (refused.value.status, refused.value.code) == (422, "invalid_idempotency_key")


def run(**fields) -> RunRequest:
    return RunRequest(**{"language": "python", "code": "print(1)", **fields})


def test_the_hash_ignores_key_order_and_names_the_scope():
    assert canonical({"b": 1, "a": [1, 2]}) == canonical({"a": (1, 2), "b": 1}) == '{"a":[1,2],"b":1}'
    assert request_hash(Scope.RUN, run()) == request_hash(Scope.RUN, run())
    assert request_hash(Scope.RUN, run()) != request_hash(Scope.LIVE, run())
    assert request_hash(Scope.RUN, run()) != request_hash(Scope.RUN, run(code="print(2)"))
    assert request_hash(Scope.RUN, run()) != request_hash(Scope.RUN, run(wait=False))


def test_nested_dataclasses_and_decimals_are_hashed_by_value():
    sent = run(files=(SourceFile("a.py", "x = 1"),), limits=Limits(timeout=Decimal("2.5")))
    assert '"files":[{"content":"x = 1","name":"a.py"}]' in canonical(sent)
    assert '"timeout":"2.5"' in canonical(sent)
    assert len(request_hash(Scope.BATCH, {"tests": [], "abs_tol": Decimal("0.1")})) == 64
