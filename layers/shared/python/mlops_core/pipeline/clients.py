"""AWS clients, built once per process from the environment alone (AWS_ENDPOINT_URL included, via boto3)."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def client(service: str) -> Any:
    import boto3

    return boto3.client(service)


def s3() -> Any:
    return client("s3")
