"""PURE. The few statistics flakehound reports: Wilson intervals and how strong a clean record is."""

from __future__ import annotations

import math

__all__ = ["clean_runs_needed", "failure_rate_upper_bound", "unseen_polluter_chance", "wilson_interval"]

Z95 = 1.959963984540054


def wilson_interval(failures: int, runs: int, z: float = Z95) -> tuple[float, float]:
    """The 95% Wilson score interval of a failure rate observed as ``failures`` in ``runs``."""
    if runs == 0:
        return 0.0, 1.0
    p = failures / runs
    denominator = 1 + z * z / runs
    centre = (p + z * z / (2 * runs)) / denominator
    margin = z * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs)) / denominator
    # the interval always holds p; clamping to it stops float noise at 0/n and n/n (5.5e-17, 0.9999...)
    return max(0.0, min(p, centre - margin)), min(1.0, max(p, centre + margin))


def unseen_polluter_chance(orders: int) -> float:
    """The chance that ``orders`` random orders never put a single polluter before its victim."""
    return 0.5**orders


def failure_rate_upper_bound(clean_runs: int, confidence: float = 0.95) -> float:
    """The highest failure rate still consistent with ``clean_runs`` passes in a row."""
    if clean_runs == 0:
        return 1.0
    return float(1 - (1 - confidence) ** (1 / clean_runs))


def clean_runs_needed(rate: float, confidence: float = 0.95) -> int:
    """How many clean runs in a row show, at ``confidence``, that the failure rate is below ``rate``."""
    return math.ceil(math.log(1 - confidence) / math.log(1 - rate))
