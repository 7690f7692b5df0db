"""Choosing among a language's toolchains (CPython or PyPy; Node, Deno or Bun). A selector names a
toolchain (its runtime, id or alias) or is a SemVer range matched against the version live workers
run; where the base matches it is chosen, so the default stays the default."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import semantic_version as semver

from sandbox import Language, registry


def version_of(raw: str) -> semver.Version:
    return semver.Version.coerce(raw)


def by_name(candidates: Sequence[Language], selector: str) -> Language | None:
    """The toolchain the selector names: `pypy`, `deno`, `node`, `cpython`, an id or an alias."""
    wanted = selector.strip().lower()
    for lang in candidates:
        if wanted and wanted in {name.lower() for name in (lang.id, lang.runtime, *lang.aliases) if name}:
            return lang
    return None


def by_range(candidates: Sequence[Language], selector: str, live: Mapping[str, str]) -> Language | None:
    """The first candidate (the base, when listed first) whose live version the range matches, else
    the newest matching one; None when the selector is no range or nothing live matches."""
    try:
        spec = semver.NpmSpec(selector)
    except ValueError:
        return None
    matching = [lang for lang in candidates if lang.id in live and spec.match(version_of(live[lang.id]))]
    if not matching:
        return None
    if matching[0] is candidates[0]:
        return matching[0]
    return max(matching, key=lambda lang: version_of(live[lang.id]))


def choose(lang: Language, selector: str, live: Mapping[str, str]) -> Language | None:
    """Within the language's family (its base and the base's variants): by name, else by range."""
    family = registry().family(lang)
    return by_name(family, selector) or by_range(family, selector, live)
