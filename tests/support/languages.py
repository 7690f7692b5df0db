"""The defined languages and their sample programs (tests/programs/<language>.toml)."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sandbox import registry
from sandbox.toolchains import detect_version

PROGRAMS = Path(__file__).parents[1] / "programs"
LANGUAGES = sorted(lang.id for lang in registry())
COMPILED = sorted(lang.id for lang in registry() if lang.compile)
ARGS = ["a b", "$HOME", "*", ""]


def samples(language: str) -> dict:
    return tomllib.loads((PROGRAMS / f"{language}.toml").read_text())


def installed(language_id: str) -> str:
    """The language's id; skips the test if this machine lacks its toolchain."""
    lang = registry().get(language_id)
    if detect_version(lang) is None:
        pytest.skip(f"{lang.id}: toolchain not installed on this machine ({', '.join(lang.requires)})")
    return lang.id
