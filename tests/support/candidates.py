"""A trained candidate without PyCaret: a scikit-learn pipeline on Iris shaped as AutoML's TrainedModel, for the
registration tests that are about the registry rather than about training."""

from __future__ import annotations

from mlops_core.training.automl import TrainedModel


def small_candidate(seed: int = 0) -> TrainedModel:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    data = load_iris(as_frame=True)
    X = data.data
    y = pd.Series(np.asarray(data.target_names)[data.target], name="species")
    pipeline = Pipeline([("model", LogisticRegression(max_iter=300, random_state=seed))]).fit(X, y)
    metrics = {"accuracy": 0.95, "precision_macro": 0.95, "recall_macro": 0.95, "f1_macro": 0.95}
    return TrainedModel(
        pipeline=pipeline,
        algorithm="LogisticRegression",
        cv_metrics=metrics,
        target="species",
        features=list(X.columns),
        categorical=[],
        classes=[str(c) for c in pipeline.classes_],
        sample=X.head(10),
        leaderboard=[{"model": "lr", **metrics}],
        timings={"compare": 1.0},
    )
