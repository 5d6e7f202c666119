"""Warm POST /predict through the Chalice handler in process, against calling the MLflow pyfunc model directly.

Run by hand from the repository root:  python bench/bench_predict.py [--repeats 2000]
Targets: single record median <= 2 ms and <= 1.5x the direct pyfunc call; a 1000-record batch >= 50,000 rows/s.
Uses a temporary MLflow sqlite registry, moto's in-process DynamoDB and S3, and an iris LogisticRegression.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "shared" / "python"), str(ROOT)]

MODEL = "iris-classifier"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def median_ms(call, repeats: int) -> float:
    for _ in range(50):  # warm caches, allocators and branch predictors
        call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def register_model(folder: Path) -> str:
    import mlflow
    import numpy as np
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from tests.support.registry_models import log_sklearn_model

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment_id=mlflow.create_experiment("bench", (folder / "artifacts").as_uri()))
    data = load_iris(as_frame=True)
    X = data.data.set_axis(FEATURES, axis=1)
    y = np.asarray(data.target_names)[data.target]
    model = LogisticRegression(max_iter=500).fit(X, y)
    version = log_sklearn_model(model, X, MODEL)
    mlflow.MlflowClient().set_registered_model_alias(MODEL, "production", version)
    return f"models:/{MODEL}@production"


def create_table(name: str) -> None:
    import boto3

    from tests.support.registry_models import create_ab_table

    create_ab_table(boto3.client("dynamodb"), name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--batch-repeats", type=int, default=50)
    args = parser.parse_args()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AB_TABLE": "bench-ab",
        "REPORTS_BUCKET": "bench-reports",
        "MODEL_NAME": MODEL,
        "API_KEY": "bench-key",
    }.items():
        os.environ[name] = value
    os.environ.pop("AWS_ENDPOINT_URL", None)

    import mlflow.pyfunc
    import pandas as pd
    from chalice.test import Client
    from moto import mock_aws

    from app import app as app_module

    with tempfile.TemporaryDirectory() as folder, mock_aws():
        uri = register_model(Path(folder))
        create_table(os.environ["AB_TABLE"])
        record = {"sepal_length": 5.9, "sepal_width": 3.0, "petal_length": 5.1, "petal_width": 1.8}
        frame = pd.DataFrame([record])
        pyfunc = mlflow.pyfunc.load_model(uri)
        direct = median_ms(lambda: pyfunc.predict(frame), args.repeats)

        http = Client(app_module.app).http
        headers = {"Content-Type": "application/json"}
        single_body = json.dumps({"features": record})
        assert http.post("/predict", headers=headers, body=single_body).status_code == 200
        handler = median_ms(lambda: http.post("/predict", headers=headers, body=single_body), args.repeats)

        batch_body = json.dumps({"instances": [record] * 1000})
        response = http.post("/predict", headers=headers, body=batch_body)
        assert response.status_code == 200 and len(response.json_body["predictions"]) == 1000
        batch = median_ms(lambda: http.post("/predict", headers=headers, body=batch_body), args.batch_repeats)
        app_module.ab_store().close()

    rows_per_s = 1000 / (batch / 1000)
    ratio = handler / direct
    print(f"{'measure':<44}{'value':>12}  target")
    print(f"{'direct pyfunc predict, 1 record (median)':<44}{direct:>10.3f}ms")
    print(f"{'POST /predict via handler, 1 record (median)':<44}{handler:>10.3f}ms  <= 2 ms  {_ok(handler <= 2)}")
    print(f"{'handler / direct':<44}{ratio:>11.2f}x  <= 1.5x  {_ok(ratio <= 1.5)}")
    print(f"{'POST /predict, 1000-record batch (median)':<44}{batch:>10.2f}ms")
    print(f"{'batch throughput':<44}{rows_per_s:>10,.0f}/s  >= 50,000 rows/s  {_ok(rows_per_s >= 50_000)}")


def _ok(passed: bool) -> str:
    return "ok" if passed else "MISSED"


if __name__ == "__main__":
    main()
