"""What a run costs: each tier's price per execution and per CPU second (config/tiers.toml)."""
from __future__ import annotations

from decimal import Decimal

from flask import current_app

from sandbox import ExecutionStatus


def cost_of(tier: str, cpu_seconds: float, status: str, runs: int = 1) -> Decimal:
    """Each run that happened is an execution (a compile that failed counts as one)."""
    if status == ExecutionStatus.INTERNAL_ERROR:
        return Decimal(0)
    prices = current_app.config["TIERS"].get(tier) or current_app.config["TIERS"]["free"]
    cost = prices["per_execution"] * max(1, runs) + prices["per_cpu_second"] * Decimal(str(round(cpu_seconds, 6)))
    return cost.quantize(Decimal("0.000001"))
