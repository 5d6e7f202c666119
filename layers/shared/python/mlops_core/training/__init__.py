"""Training: the held-out split, AutoML model selection by macro F1, and MLflow registration of the candidate."""

from mlops_core.training.automl import FAST_MODELS, TrainedModel, train_best_model
from mlops_core.training.exceptions import TrainingError
from mlops_core.training.register import IDEMPOTENCY_TAG, Registration, register_candidate, reuse_registration
from mlops_core.training.split import stratified_split

__all__ = [
    "FAST_MODELS",
    "IDEMPOTENCY_TAG",
    "Registration",
    "TrainedModel",
    "TrainingError",
    "register_candidate",
    "reuse_registration",
    "stratified_split",
    "train_best_model",
]
