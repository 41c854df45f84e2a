"""Statistics shared by the benchmarks: contenders timed in rounds, compared round by round."""

from __future__ import annotations

import statistics


def round_ratios(numerator: list[float], denominator: list[float]) -> list[float]:
    """numerator / denominator within each round: the two runs of a round saw the same machine."""
    return [a / b for a, b in zip(numerator, denominator)]


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median over rounds of numerator / denominator within each round."""
    return statistics.median(round_ratios(numerator, denominator))
