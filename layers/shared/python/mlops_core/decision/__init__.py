"""Promotion decisions with known error rates: the pre-registered offline test and α spending across runs."""

from mlops_core.decision.offline import (
    BCA_BOOTSTRAP,
    CLASS_REGRESSION,
    INSUFFICIENT_DATA,
    VERDICTS,
    OfflineDecision,
    OfflineDecisionDict,
    offline_decision,
)
from mlops_core.decision.spending import PastTest, lord_gamma, lord_plus_plus, telescoping_gamma

__all__ = [
    "BCA_BOOTSTRAP",
    "CLASS_REGRESSION",
    "INSUFFICIENT_DATA",
    "VERDICTS",
    "OfflineDecision",
    "OfflineDecisionDict",
    "PastTest",
    "lord_gamma",
    "lord_plus_plus",
    "offline_decision",
    "telescoping_gamma",
]
