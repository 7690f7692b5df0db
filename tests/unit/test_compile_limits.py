"""Each tier's compile limits: every compiled language's own compile limits, lowered to the tier's
`compile_timeout` / `compile_memory_mb` (config/tiers.toml); tests/integration/test_compile_limits.py
runs compile-time code under them."""
from __future__ import annotations

from config.settings import load_tiers
from sandbox import CompileCap, registry

# (timeout s, memory MB) each tier's compile gets, per language: the language's own, clamped
CLAMPS = {
    "free": {"haskell": (20, 512), "kotlin": (20, 512), "java": (20, 512), "c": (20, 512), "rust": (20, 512)},
    "pro": {"haskell": (30, 1024), "kotlin": (30, 1024), "java": (30, 1024), "c": (30, 1024), "rust": (30, 1024)},
    "ultra": {"haskell": (60, 1536), "kotlin": (60, 1536), "java": (30, 1536), "c": (30, 1024), "rust": (30, 1024)},
    "enterprise": {"haskell": (60, 1536), "kotlin": (60, 1536), "java": (30, 1536), "c": (30, 1024),
                   "rust": (30, 1024)},
}


def _cap(tier: dict) -> CompileCap:
    return CompileCap(tier["compile_timeout"], tier["compile_memory_mb"])


def test_each_tier_clamps_every_languages_compile_limits():
    tiers = load_tiers()
    assert list(tiers) == list(CLAMPS)
    for name, expected in CLAMPS.items():
        for lang_id, (timeout, memory_mb) in expected.items():
            limits = registry().get(lang_id).compile_limits.capped(_cap(tiers[name]))
            assert (limits.timeout, limits.memory_mb) == (timeout, memory_mb), (name, lang_id)
    for name, tier in tiers.items():  # never above what the language itself allows
        for lang in (lang for lang in registry() if lang.compile):
            limits, own = lang.compile_limits.capped(_cap(tier)), lang.compile_limits
            assert limits.timeout <= min(own.timeout, tier["compile_timeout"]), (name, lang.id)
            assert limits.memory_mb <= min(own.memory_mb, tier["compile_memory_mb"]), (name, lang.id)
            assert limits.pids == own.pids and limits.tmp_mb == own.tmp_mb
    caps = [(t["compile_timeout"], t["compile_memory_mb"]) for t in tiers.values()]
    assert caps == sorted(caps)  # smallest tier first, like every other limit
