"""One TransactWriteItems of 25 actions against a table that already holds many items, in moto as it comes and
with the emulator's item snapshot (moto_patches.dynamodb_transaction_patches) applied.

The transaction is shaped like a `/feedback` chunk of the A/B table: 24 conditional Puts of new markers and one
ADD on a counter item. moto's own rollback deep-copies the table once per action, so its time grows with the
table; the item snapshot copies the 25 items the actions address.

    .venv/bin/python bench/bench_dynamodb_transactions.py [--items 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "infra")]

TABLE = "bench-ab"
ACCOUNT = "123456789012"
REGION = "us-east-1"


def fill(count: int) -> None:
    """The table as template.yaml defines the A/B table, with `count` prediction items (put in the backend)."""
    import boto3
    from moto.dynamodb.models import dynamodb_backends

    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    backend = dynamodb_backends[ACCOUNT][REGION]
    for i in range(count):
        backend.put_item(
            TABLE,
            {
                "pk": {"S": f"prediction#{i:08d}"},
                "sk": {"S": "prediction"},
                "variant": {"S": "production" if i % 2 else "shadow"},
                "predicted": {"S": "versicolor"},
                "expires_at": {"N": str(1_900_000_000 + i)},
            },
        )


def transaction(run: int) -> list[dict[str, Any]]:
    puts = [
        {
            "Put": {
                "TableName": TABLE,
                "Item": {"pk": {"S": f"feedback#{run}-{i}"}, "sk": {"S": "label"}, "label": {"S": "setosa"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        for i in range(24)
    ]
    update = {
        "Update": {
            "TableName": TABLE,
            "Key": {"pk": {"S": "stats"}, "sk": {"S": "production"}},
            "UpdateExpression": "ADD #n :n",
            "ExpressionAttributeNames": {"#n": "labels"},
            "ExpressionAttributeValues": {":n": {"N": "24"}},
        }
    }
    return [*puts, update]


def timed(client: Any, repeat: int, first_run: int) -> list[float]:
    seconds = []
    for run in range(first_run, first_run + repeat):
        started = time.perf_counter()
        client.transact_write_items(TransactItems=transaction(run))
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000, help="items in the table before the transactions")
    parser.add_argument("--repeat", type=int, default=3, help="transactions timed each way")
    args = parser.parse_args()

    import boto3
    from mlops_local import moto_patches
    from moto import mock_aws

    os.environ.pop("AWS_ENDPOINT_URL", None)  # moto's in-process mock, never an emulator
    with mock_aws():
        fill(args.items)
        client = boto3.client("dynamodb", region_name=REGION)
        before = timed(client, args.repeat, 0)
        moto_patches.check_moto()
        for owner, name, value in moto_patches.dynamodb_transaction_patches():
            setattr(owner, name, value)
        after = timed(client, args.repeat, args.repeat)
    print(f"one 25-action TransactWriteItems on a table of {args.items:,} items (median of {args.repeat}):")
    print(f"  moto as it comes:   {statistics.median(before):8.3f} s")
    print(f"  with item snapshot: {statistics.median(after):8.3f} s")


if __name__ == "__main__":
    main()
