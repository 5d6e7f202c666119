"""Statistics of the pipeline: scikit-learn-equal metrics, the paired bootstrap of ΔF1-macro with BCa bounds,
the exact sign-flip test, per-class guardrails, the planned sample size and the online sequential test."""

from mlops_core.stats.bca import Bca, jackknife_se
from mlops_core.stats.bootstrap import (
    BootstrapResult,
    PairedBootstrap,
    bootstrap_statistics,
    paired_bootstrap_f1,
    paired_bootstrap_f1_rows,
)
from mlops_core.stats.guardrails import ClassCheck, class_guardrails, holm
from mlops_core.stats.joint import JointCounts, jackknife_statistics, joint_counts, observed_statistics
from mlops_core.stats.metrics import (
    classification_metrics,
    confusion_counts,
    encode_labels,
    metrics_from_confusion,
)
from mlops_core.stats.planning import (
    SamplePlan,
    minimum_detectable_effect,
    plan_sample_size,
    required_sample_size,
)
from mlops_core.stats.sequential import SequentialResult, paired_sequential_test
from mlops_core.stats.sign_flip import SignFlipResult, sign_flip_test

__all__ = [
    "Bca",
    "BootstrapResult",
    "ClassCheck",
    "JointCounts",
    "PairedBootstrap",
    "SamplePlan",
    "SequentialResult",
    "SignFlipResult",
    "bootstrap_statistics",
    "class_guardrails",
    "classification_metrics",
    "confusion_counts",
    "encode_labels",
    "holm",
    "jackknife_se",
    "jackknife_statistics",
    "joint_counts",
    "metrics_from_confusion",
    "minimum_detectable_effect",
    "observed_statistics",
    "paired_bootstrap_f1",
    "paired_bootstrap_f1_rows",
    "paired_sequential_test",
    "plan_sample_size",
    "required_sample_size",
    "sign_flip_test",
]
