"""Detects which language toolchains this machine can serve, and their versions."""
from __future__ import annotations

import os
import re
import subprocess

from .registry import Language, Registry

VERSION_TIMEOUT = 20


def detect_version(lang: Language) -> str | None:
    """The toolchain's own version string, or None when it cannot run here."""
    if not all(os.path.exists(path) for path in lang.requires):
        return None
    if not lang.version_cmd:
        return "unknown"
    try:
        proc = subprocess.run(
            list(lang.version_cmd), capture_output=True, timeout=VERSION_TIMEOUT, input=lang.version_stdin.encode(),
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (proc.stdout + proc.stderr).decode(errors="replace")
    match = re.search(lang.version_regex, text) if lang.version_regex else None
    if proc.returncode != 0 and not match:
        return None
    return match.group(1) if match else text.strip().splitlines()[0][:64]


def available_toolchains(registry: Registry) -> dict[str, str]:
    """Map of language id to detected version for every language runnable here."""
    found = {}
    for lang in registry:
        version = detect_version(lang)
        if version is not None:
            found[lang.id] = version
    return found
