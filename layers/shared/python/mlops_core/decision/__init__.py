"""Promotion decisions with known error rates: the pre-registered offline test and α spending across runs."""

from mlops_core.decision.spending import PastTest, lord_gamma, lord_plus_plus

__all__ = [
    "PastTest",
    "lord_gamma",
    "lord_plus_plus",
]
