"""LeaseStore over a DynamoDB table with a string `pk` hash key and a string `sk` range key: the stack's A/B
table (AB_TABLE), whose items the A/B store keys `config`, `stats`, `feedback#…`; leases are `lease#<name>`.

Each acquire or release is one conditional write, which DynamoDB applies atomically, so two executions asking
at the same instant cannot both win. `expires_at` (whole epoch seconds) is the table's TTL attribute: DynamoDB
deletes expired leases by itself some time later; until then the condition treats them as free.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from mlops_core import settings
from mlops_core.leases import Lease

_PREFIX = "lease#"
_SORT_KEY = "lease"
_CONDITION_FAILED = "ConditionalCheckFailedException"


class DynamoDbLeases:
    def __init__(self, client: Any, table_name: str, *, now: Callable[[], float] = time.time) -> None:
        self.client = client
        self.table_name = table_name
        self._now = now

    def acquire(self, name: str, owner: str, seconds: float) -> Lease | None:
        now = self._now()
        until = now + seconds
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    **_key(name),
                    "owner": {"S": owner},
                    "lease_until": {"N": repr(until)},
                    "expires_at": {"N": str(math.ceil(until))},
                    "acquired_at": {"N": repr(now)},
                },
                ConditionExpression="attribute_not_exists(pk) OR lease_until <= :now OR #owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":now": {"N": repr(now)}, ":owner": {"S": owner}},
            )
        except Exception as exc:
            if _code(exc) == _CONDITION_FAILED:
                return None
            raise
        return Lease(name, owner, until)

    def release(self, name: str, owner: str) -> bool:
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=_key(name),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except Exception as exc:
            if _code(exc) == _CONDITION_FAILED:
                return False
            raise
        return True

    def holder(self, name: str) -> Lease | None:
        item = self.client.get_item(TableName=self.table_name, Key=_key(name), ConsistentRead=True).get("Item")
        if item is None:
            return None
        until = float(item["lease_until"]["N"])
        return Lease(name, item["owner"]["S"], until) if until > self._now() else None


def leases_from_environment() -> DynamoDbLeases | None:
    """Leases in the A/B table the environment names (AB_TABLE), or None when it names none."""
    table = settings.get(settings.AB_TABLE)
    if not table:
        return None
    import boto3

    # A session of its own: boto3's default one keeps the region it resolved first.
    return DynamoDbLeases(boto3.session.Session().client("dynamodb"), table)


def _key(name: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": _PREFIX + name}, "sk": {"S": _SORT_KEY}}


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
