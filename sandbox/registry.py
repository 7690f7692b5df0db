"""Language registry: loads the data definitions in ``languages.toml``."""
from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFINITIONS_FILE = Path(__file__).with_name("languages.toml")
# Toolchains installed from npm/PyPI live here (`make toolchains`); definitions say {toolchains}.
TOOLCHAINS_DIR = os.environ.get("CODESTUDIO_TOOLCHAINS") or str(Path(__file__).resolve().parent.parent / ".toolchains")
# small scripts some toolchains run inside the jail (bound read-only at /opt/codestudio)
HELPERS_DIR = str(Path(__file__).resolve().parent / "helpers")


@dataclass(frozen=True)
class CompileCap:
    """The most a caller's compile may get (its tier's compile limits), whatever the language allows:
    a compiler runs the program's compile-time code (Template Haskell, constexpr, ...)."""
    timeout: float
    memory_mb: int


@dataclass(frozen=True)
class CompileLimits:
    timeout: float = 30.0
    memory_mb: int = 1024
    pids: int = 64
    tmp_mb: int = 256

    def capped(self, cap: CompileCap | None) -> CompileLimits:
        """The language's compile limits, lowered to the caller's cap (None: as they are)."""
        if cap is None:
            return self
        return replace(self, timeout=min(self.timeout, cap.timeout), memory_mb=min(self.memory_mb, cap.memory_mb))


@dataclass(frozen=True)
class Profile:
    name: str
    proc: bool
    pids: int
    binds: tuple[str, ...] = ()
    compile: CompileLimits = CompileLimits()


@dataclass(frozen=True)
class Language:
    id: str
    name: str
    aliases: tuple[str, ...]
    extension: str
    main: str
    profile: Profile
    run: tuple[str, ...]
    compile: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    version_cmd: tuple[str, ...] = ()
    version_regex: str = ""
    version_stdin: str = ""
    env: dict[str, str] = field(default_factory=dict)
    binds: tuple[str, ...] = ()
    compile_limits: CompileLimits = CompileLimits()
    pids: int = 64
    entry_regex: str = ""
    proc: bool = False
    open_files: int | None = None
    prelude: str = ""
    warm_compile: tuple[str, ...] = ()  # a compiler started ahead of need (sandbox/prewarm.py)
    warm_requires: tuple[str, ...] = ()
    error_format: str = ""  # how its runtime reports an uncaught error on stderr: python, node, jvm or none
    variant_of: str | None = None  # the base language this is another toolchain of (pypy -> python)
    runtime: str = ""  # the toolchain's name where the language has several (node, deno, bun)


class UnknownLanguage(KeyError):
    pass


class Registry:
    def __init__(self, languages: dict[str, Language]):
        self.languages = languages
        self._by_name = {}
        for lang in languages.values():
            for name in (lang.id, *lang.aliases):
                self._by_name[name.lower()] = lang

    def get(self, name: str) -> Language:
        try:
            return self._by_name[name.strip().lower()]
        except KeyError:
            raise UnknownLanguage(name) from None

    def __iter__(self) -> Iterator[Language]:
        return iter(self.languages.values())

    def variants(self, base_id: str) -> list[Language]:
        """The other toolchains of a base language, in definition order."""
        return [lang for lang in self.languages.values() if lang.variant_of == base_id]

    def family(self, lang: Language) -> list[Language]:
        """The language's base first, then the base's variants: the toolchains one name may choose among."""
        base = self.languages[lang.variant_of] if lang.variant_of else lang
        return [base, *self.variants(base.id)]


def _compile_limits(base: CompileLimits, overrides: dict[str, Any]) -> CompileLimits:
    return CompileLimits(**{**base.__dict__, **overrides})


def _present(entry: dict[str, Any]) -> bool:
    return all(os.path.exists(path) for path in entry.get("requires", ()))


def _toolchain_here(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry may list alternative toolchains for the same language (`[[languages.x.toolchains]]`,
    in order of preference); the first one this host has overrides the entry's own keys."""
    for alternative in entry.get("toolchains", ()):
        if _present(alternative):
            return {**entry, **alternative}
    return entry


def _language(lang_id: str, entry: dict[str, Any], profiles: dict[str, Profile]) -> Language:
    entry = _toolchain_here(entry)
    version = entry.get("version", {})
    profile = profiles[entry["profile"]]
    return Language(
        id=lang_id,
        name=entry["name"],
        aliases=tuple(entry.get("aliases", ())),
        extension=entry["extension"],
        main=entry["main"],
        profile=profile,
        run=tuple(entry["run"]),
        compile=tuple(entry.get("compile", ())),
        requires=tuple(entry.get("requires", ())),
        version_cmd=tuple(version.get("cmd", ())),
        version_regex=version.get("regex", ""),
        version_stdin=version.get("stdin", ""),
        env=dict(entry.get("env", {})),
        binds=tuple(entry.get("binds", ())),
        compile_limits=_compile_limits(profile.compile, entry.get("compile_limits", {})),
        pids=entry.get("pids", profile.pids),
        entry_regex=entry.get("entry_regex", ""),
        proc=entry.get("proc", profile.proc),
        open_files=entry.get("open_files"),
        prelude=entry.get("prelude", ""),
        warm_compile=tuple(entry.get("warm_compile", ())),
        warm_requires=tuple(entry.get("warm_requires", ())),
        error_format=entry.get("error_format", ""),
        variant_of=entry.get("variant_of"),
        runtime=entry.get("runtime", ""),
    )


def load_registry(path: Path = DEFINITIONS_FILE) -> Registry:
    text = path.read_text().replace("{toolchains}", TOOLCHAINS_DIR).replace("{helpers}", HELPERS_DIR)
    data = tomllib.loads(text)
    profiles = {
        name: Profile(name=name, proc=p["proc"], pids=p["pids"], binds=tuple(p.get("binds", ())),
                      compile=_compile_limits(CompileLimits(), p.get("compile_limits", {})))
        for name, p in data["profiles"].items()
    }
    languages = {lid: _language(lid, e, profiles) for lid, e in data["languages"].items()}
    for lang in languages.values():  # a variant's base is a defined base, never another variant
        base = languages.get(lang.variant_of or lang.id)
        if base is None or base.variant_of:
            raise ValueError(f"{lang.id}: variant_of names no base language ({lang.variant_of!r})")
    return Registry(languages)


@lru_cache(maxsize=1)
def registry() -> Registry:
    return load_registry()
