"""The library packages a language's read-only layers carry (read from their `*.dist-info` metadata),
which the worker advertises so the API lists them without the layer on its own host."""
from __future__ import annotations

import os
from email.parser import HeaderParser
from pathlib import Path

from .registry import Language, Registry

METADATA_LIMIT = 64 * 1024  # the name and version headers come first


def _distribution(dist_info: Path) -> tuple[str, str] | None:
    try:
        with open(dist_info / "METADATA", encoding="utf-8", errors="replace") as meta:
            headers = HeaderParser().parsestr(meta.read(METADATA_LIMIT), headersonly=True)
    except OSError:
        return None
    name, version = headers.get("Name"), headers.get("Version")
    return (name.strip(), version.strip()) if name and version else None


def layer_packages(lang: Language) -> dict[str, str]:
    """name -> version of every distribution installed in the directories the language binds."""
    found: dict[str, str] = {}
    for bind in lang.binds:
        host = bind.split(":", 1)[0]
        if not os.path.isdir(host):
            continue
        for dist_info in sorted(Path(host).glob("*.dist-info")):
            entry = _distribution(dist_info)
            if entry:
                found.setdefault(*entry)
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


def available_packages(registry: Registry, language_ids: set[str]) -> dict[str, dict[str, str]]:
    """language id -> its layer's packages, for the given languages that have any."""
    found = {}
    for lang in registry:
        if lang.id in language_ids:
            packages = layer_packages(lang)
            if packages:
                found[lang.id] = packages
    return found
