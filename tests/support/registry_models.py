"""What several test files and the API benchmark set up the same way: the A/B table exactly as template.yaml
defines it, and a small scikit-learn model logged and registered like the training step does."""

from __future__ import annotations

from typing import Any

AB_KEY_SCHEMA = {
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ],
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
}


def create_ab_table(client: Any, name: str) -> str:
    """pk (S, HASH) + sk (S, RANGE), on demand, TTL on expires_at."""
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **AB_KEY_SCHEMA)
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    return name


def log_sklearn_model(model: Any, X: Any, name: str, *, signature: bool = True, f1: float | None = None) -> str:
    """Log and register `model` (fitted on X) with a column signature; returns the new version."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    with mlflow.start_run():
        if f1 is not None:
            mlflow.log_metric("f1_macro", f1)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(X, model.predict(X)) if signature else None,
            serialization_format="cloudpickle",
            registered_model_name=name,
            pip_requirements=["scikit-learn"],  # skips requirement inference, which loads the model again
        )
    return str(info.registered_model_version)
