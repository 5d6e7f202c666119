"""DynamoDB TransactWriteItems in the emulator: its rollback keeps the items the transaction writes, not whole
tables (moto_patches.dynamodb_transaction_patches), and otherwise behaves as moto does.

Each scenario runs twice on the same tables and items: in the emulator, and in moto's in-process mock, which
this process never patches; the error (code, message, cancellation reasons) and every table afterwards must be
the same. The structural tests apply the patch in this process for the one test only.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from mlops_local import moto_patches
from mlops_local.environment import CLIENT_CREDENTIALS
from mlops_local.exceptions import UnsupportedMotoError

from tests.integration.conftest import RunningEmulator

pytestmark = pytest.mark.integration

REGION = "us-east-1"
ACCOUNT = "123456789012"
AB, PLAIN, OTHER = "tx-ab", "tx-plain", "tx-other"
Actions = list[dict[str, Any]]


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _ab_key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": _s(pk), "sk": _s(sk)}


def _create_tables(client: Any, prefix: str) -> None:
    string = "S"
    for name, keys in (
        (AB, [("pk", "HASH"), ("sk", "RANGE")]),
        (PLAIN, [("id", "HASH")]),
        (OTHER, [("id", "HASH")]),
    ):
        client.create_table(
            TableName=prefix + name,
            KeySchema=[{"AttributeName": attribute, "KeyType": kind} for attribute, kind in keys],
            AttributeDefinitions=[{"AttributeName": attribute, "AttributeType": string} for attribute, _ in keys],
            BillingMode="PAY_PER_REQUEST",
        )


def _seed(client: Any, prefix: str) -> None:
    """Items the transactions address, and bystanders: in the same tables (one in the same partition as a
    written item) and in a table no transaction names."""
    ab = [
        {**_ab_key("stats", "production"), "labels": {"N": "5"}},
        {**_ab_key("m#1", "label"), "label": _s("setosa")},
        {**_ab_key("m#1", "other"), "label": _s("bystander in a written partition")},
        {**_ab_key("m#2", "label"), "label": _s("virginica")},
        *({**_ab_key(f"p#{i:02d}", "prediction"), "predicted": _s("versicolor")} for i in range(20)),
    ]
    plain = [{"id": _s(name), "v": _s(f"old {name}")} for name in ("a", "b", "c", *(f"z{i}" for i in range(10)))]
    other = [{"id": _s(f"o{i}"), "v": {"N": str(i)}} for i in range(5)]
    for table, items in ((AB, ab), (PLAIN, plain), (OTHER, other)):
        for start in range(0, len(items), 25):
            requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            client.batch_write_item(RequestItems={prefix + table: requests})


def _applied(prefix: str) -> Actions:
    """Every kind of action, all of which succeed: new and replaced Puts, an Update of an item and one that
    creates it, Deletes, a ConditionCheck; in a table with a sort key and in one without."""
    ab, plain = prefix + AB, prefix + PLAIN
    return [
        {"Put": {"TableName": ab, "Item": {**_ab_key("m#3", "label"), "label": _s("new")}, **_absent("pk")}},
        {"Put": {"TableName": plain, "Item": {"id": _s("a"), "v": _s("replaced")}}},
        {"Update": {"TableName": ab, "Key": _ab_key("stats", "production"), **_add_one()}},
        {"Update": {"TableName": ab, "Key": _ab_key("stats", "shadow"), **_add_one()}},
        {"Delete": {"TableName": ab, "Key": _ab_key("m#2", "label")}},
        {"Delete": {"TableName": plain, "Key": {"id": _s("b")}}},
        {"ConditionCheck": {"TableName": plain, "Key": {"id": _s("c")}, "ConditionExpression": "attribute_exists(id)"}},
    ]


def _absent(attribute: str) -> dict[str, str]:
    return {"ConditionExpression": f"attribute_not_exists({attribute})"}


def _add_one() -> dict[str, Any]:
    return {
        "UpdateExpression": "ADD #n :one",
        "ExpressionAttributeNames": {"#n": "labels"},
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }


def _condition_fails(prefix: str) -> Actions:
    # In the middle: moto carries on with the actions after it, which write before the rollback.
    taken = {
        "Put": {
            "TableName": prefix + AB,
            "Item": {**_ab_key("m#1", "label"), "label": _s("again")},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            **_absent("pk"),
        }
    }
    actions = _applied(prefix)
    return [*actions[:3], taken, *actions[3:]]


def _condition_check_fails(prefix: str) -> Actions:
    check = {"TableName": prefix + PLAIN, "Key": {"id": _s("missing")}, "ConditionExpression": "attribute_exists(id)"}
    return [*_applied(prefix), {"ConditionCheck": check}]


def _missing_table(prefix: str) -> Actions:
    return [*_applied(prefix), {"Delete": {"TableName": prefix + "tx-missing", "Key": {"id": _s("a")}}}]


def _item_too_large(prefix: str) -> Actions:
    # An Update that creates its item, then exceeds DynamoDB's 400 KB: a validation error after writes.
    too_large = {
        "TableName": prefix + PLAIN,
        "Key": {"id": _s("d")},
        "UpdateExpression": "SET big = :big",
        "ExpressionAttributeValues": {":big": _s("x" * 410_000)},
    }
    return [*_applied(prefix), {"Update": too_large}]


def _two_actions_on_one_item(prefix: str) -> Actions:
    return [*_applied(prefix), {"Delete": {"TableName": prefix + AB, "Key": _ab_key("m#3", "label")}}]


CANCELLED: dict[str, Callable[[str], Actions]] = {
    "condition-fails": _condition_fails,
    "condition-check-fails": _condition_check_fails,
    "missing-table": _missing_table,
    "item-too-large": _item_too_large,
    "two-actions-on-one-item": _two_actions_on_one_item,
}


def _tables(client: Any, prefix: str) -> dict[str, list[dict[str, Any]]]:
    state = {}
    for table in (AB, PLAIN, OTHER):
        items = client.scan(TableName=prefix + table, ConsistentRead=True)["Items"]
        state[table] = sorted(items, key=lambda item: repr(sorted(item.items())))
    return state


def _run(client: Any, prefix: str, actions: Callable[[str], Actions]) -> tuple[dict[str, Any] | None, dict, dict]:
    """(error or None, tables before, tables after) of one transaction on freshly seeded tables."""
    _create_tables(client, prefix)
    _seed(client, prefix)
    before = _tables(client, prefix)
    error = None
    try:
        client.transact_write_items(TransactItems=actions(prefix))
    except ClientError as exc:
        error = {
            "Code": exc.response["Error"]["Code"],
            "Message": exc.response["Error"]["Message"],
            "CancellationReasons": exc.response.get("CancellationReasons"),
        }
    return error, before, _tables(client, prefix)


@pytest.fixture
def in_moto(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[str], Actions]], Any]:
    """Runs a scenario in moto's in-process mock as it comes (nothing in this process applies the patches)."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from moto import mock_aws

    def run(actions: Callable[[str], Actions]) -> Any:
        with mock_aws():
            return _run(boto3.client("dynamodb", region_name=REGION, **CLIENT_CREDENTIALS), "", actions)

    return run


def _in_emulator(emulator: RunningEmulator, name: str, actions: Callable[[str], Actions]) -> Any:
    return _run(emulator.client("dynamodb"), f"{name}-", actions)


def _without_prefix(error: dict[str, Any] | None, prefix: str) -> dict[str, Any] | None:
    return None if error is None else {**error, "Message": error["Message"].replace(prefix, "")}


@pytest.mark.parametrize("scenario", CANCELLED)
def test_a_cancelled_transaction_leaves_every_table_as_it_was_and_fails_as_in_moto(
    emulator: RunningEmulator, in_moto: Callable[..., Any], scenario: str
) -> None:
    error, before, after = _in_emulator(emulator, scenario, CANCELLED[scenario])
    moto_error, moto_before, moto_after = in_moto(CANCELLED[scenario])

    assert error is not None
    assert _without_prefix(error, f"{scenario}-") == moto_error
    # Puts, Updates (one that created its item too) and Deletes undone; bystanders and the other table as seeded.
    assert after == before
    assert (before, after) == (moto_before, moto_after)


def test_the_cancellation_reasons_are_moto_s(emulator: RunningEmulator) -> None:
    error, _, _ = _in_emulator(emulator, "reasons", _condition_fails)

    assert error is not None and error["Code"] == "TransactionCanceledException"
    reasons = error["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None"] * 3 + ["ConditionalCheckFailed"] + ["None"] * 4
    assert reasons[3]["Item"] == {**_ab_key("m#1", "label"), "label": _s("setosa")}


def test_a_transaction_that_succeeds_applies_every_action_and_nothing_else(
    emulator: RunningEmulator, in_moto: Callable[..., Any]
) -> None:
    error, before, after = _in_emulator(emulator, "applied", _applied)
    moto_error, _, moto_after = in_moto(_applied)

    assert error is None and moto_error is None
    assert after == moto_after
    ab = {(item["pk"]["S"], item["sk"]["S"]): item for item in after[AB]}
    assert ab[("m#3", "label")]["label"] == _s("new")
    assert ab[("stats", "production")]["labels"] == {"N": "6"}
    assert ab[("stats", "shadow")]["labels"] == {"N": "1"}
    assert ("m#2", "label") not in ab
    plain = {item["id"]["S"]: item for item in after[PLAIN]}
    assert plain["a"]["v"] == _s("replaced") and "b" not in plain
    # What no action addressed, in the written tables and in the other one.
    written = {("m#3", "label"), ("stats", "production"), ("stats", "shadow"), ("m#2", "label")}
    assert [i for i in after[AB] if (i["pk"]["S"], i["sk"]["S"]) not in written] == [
        i for i in before[AB] if (i["pk"]["S"], i["sk"]["S"]) not in written
    ]
    assert [i for i in after[PLAIN] if i["id"]["S"] not in "ab"] == [
        i for i in before[PLAIN] if i["id"]["S"] not in "ab"
    ]
    assert after[OTHER] == before[OTHER]


# In this process, for one test: the cost of a transaction, counted in what it copies.


@pytest.fixture
def deep_copies(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[type]]:
    """The type of every object copy.deepcopy is called on (moto's module calls it through `copy`)."""
    copied: list[type] = []
    deepcopy = copy.deepcopy

    def spy(value: Any, memo: Any = None, *args: Any) -> Any:
        copied.append(type(value))
        return deepcopy(value, memo, *args)

    monkeypatch.setattr(copy, "deepcopy", spy)
    yield copied


@pytest.fixture
def snapshots(monkeypatch: pytest.MonkeyPatch) -> list[moto_patches.ItemSnapshot]:
    """The item snapshot applied as `apply` applies it, for this test only; the snapshots it takes."""
    for owner, name, value in moto_patches.dynamodb_transaction_patches():
        monkeypatch.setattr(owner, name, value)
    taken: list[moto_patches.ItemSnapshot] = []
    take = moto_patches.ItemSnapshot.take.__func__  # type: ignore[attr-defined]

    def spy(cls: type, backend: Any, transact_items: Actions) -> moto_patches.ItemSnapshot:
        taken.append(take(cls, backend, transact_items))
        return taken[-1]

    monkeypatch.setattr(moto_patches.ItemSnapshot, "take", classmethod(spy))
    moto_patches.check_moto()  # the guard reads moto's function through the patch
    return taken


def _large_table(count: int) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    client = boto3.client("dynamodb", region_name=REGION)
    _create_tables(client, "")
    backend = dynamodb_backends[ACCOUNT][REGION]
    for i in range(count):
        backend.put_item(AB, {**_ab_key(f"p#{i:05d}", "prediction"), "predicted": _s("versicolor")})
    return client


def _feedback_chunk(run: str, failing: bool = False) -> Actions:
    """24 conditional Puts of new markers and one ADD on a counter, as a /feedback chunk; `failing` makes the
    last marker one that exists."""
    puts = [
        {"Put": {"TableName": AB, "Item": {**_ab_key(f"m#{run}{i}", "label"), "label": _s("setosa")}, **_absent("pk")}}
        for i in range(24)
    ]
    if failing:
        puts[-1]["Put"]["Item"] = {**_ab_key("p#00000", "prediction"), "label": _s("setosa")}
    return [*puts, {"Update": {"TableName": AB, "Key": _ab_key("stats", "production"), **_add_one()}}]


def test_unpatched_moto_copies_the_whole_table_once_per_action(deep_copies: list[type]) -> None:
    from moto.dynamodb.models.table import Table

    client = _large_table(200)
    deep_copies.clear()
    client.transact_write_items(TransactItems=_feedback_chunk("a"))

    # When this fails, moto changed its rollback: the patch (and its source hash) is to be read again.
    assert deep_copies.count(Table) == 25


@pytest.mark.parametrize("failing", [False, True], ids=["applied", "cancelled"])
def test_a_transaction_copies_its_items_not_the_tables(
    deep_copies: list[type], snapshots: list[moto_patches.ItemSnapshot], failing: bool
) -> None:
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table

    client = _large_table(2_000)
    deep_copies.clear()
    if failing:
        with pytest.raises(client.exceptions.TransactionCanceledException):
            client.transact_write_items(TransactItems=_feedback_chunk("b", failing=True))
    else:
        client.transact_write_items(TransactItems=_feedback_chunk("b"))

    assert Table not in deep_copies
    (snapshot,) = snapshots
    assert len(snapshot.items) == 25  # one per action, whatever the table holds
    # The snapshot's copies of the two items that exist (the counter does not yet) and moto's own copy of the
    # item its Update addresses: nothing that grows with the table.
    assert deep_copies.count(Item) <= 3
    assert len(deep_copies) < 100
    assert client.scan(TableName=AB, Select="COUNT")["Count"] == (2_000 if failing else 2_025)


def test_a_changed_transact_write_items_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        return original(self, transact_items)  # a moto whose function reads differently

    assert list(inspect.signature(transact_write_items).parameters) == ["self", "transact_items"]
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", transact_write_items)
    with pytest.raises(UnsupportedMotoError) as raised:
        moto_patches.check_moto()
    assert str(raised.value).endswith(
        ": moto.dynamodb.models.DynamoDBBackend.transact_write_items is not the function its patch was read from "
        "(its source changed)"
    )
