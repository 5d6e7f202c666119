"""Statistics of the pipeline: scikit-learn-equal classification metrics and the paired bootstrap of ΔF1-macro."""

from mlops_core.stats.bootstrap import BootstrapResult, paired_bootstrap_f1, paired_bootstrap_f1_rows
from mlops_core.stats.metrics import (
    classification_metrics,
    confusion_counts,
    encode_labels,
    metrics_from_confusion,
)

__all__ = [
    "BootstrapResult",
    "classification_metrics",
    "confusion_counts",
    "encode_labels",
    "metrics_from_confusion",
    "paired_bootstrap_f1",
    "paired_bootstrap_f1_rows",
]
