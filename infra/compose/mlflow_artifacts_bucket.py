"""Print the bucket MLflow keeps its artifacts in, in docker-compose.yml: the stack's ArtifactsBucket.

Run inside the compose network by the mlflow service before `mlflow server`. MLFLOW_ARTIFACTS_BUCKET, when set,
wins; otherwise the bucket is the ArtifactsBucketName output of the stack MLOPS_STACK_NAME (default
mlops-pipeline) on LocalStack (AWS_ENDPOINT_URL). The stack must be deployed first: without it this exits with
one line saying so, and MLflow does not start. Needs only boto3 (in the runtime image).
"""

from __future__ import annotations

import os
import sys
from typing import Any

DEFAULT_STACK = "mlops-pipeline"
OUTPUT = "ArtifactsBucketName"


class NoBucketError(Exception):
    """The stack or its output is missing; the message says what to do."""


def artifacts_bucket(cloudformation: Any, stack_name: str) -> str:
    """The stack's ArtifactsBucketName output."""
    from botocore.exceptions import ClientError

    deploy = "deploy it first (mlops deploy --target localstack), then `docker compose up -d mlflow`"
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise NoBucketError(f"no stack {stack_name} on LocalStack ({exc}): {deploy}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in (stacks[0].get("Outputs") or [])} if stacks else {}
    if OUTPUT not in outputs:
        status = stacks[0]["StackStatus"] if stacks else "missing"
        raise NoBucketError(f"stack {stack_name} ({status}) has no {OUTPUT} output: {deploy}")
    return outputs[OUTPUT]


def main() -> int:
    chosen = os.environ.get("MLFLOW_ARTIFACTS_BUCKET", "").strip()
    if not chosen:
        import boto3

        stack_name = os.environ.get("MLOPS_STACK_NAME", "").strip() or DEFAULT_STACK
        try:
            chosen = artifacts_bucket(boto3.client("cloudformation"), stack_name)
        except NoBucketError as exc:
            print(f"mlflow: {exc}", file=sys.stderr)
            return 1
    print(chosen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
