"""One contract, two lease stores: DynamoDB's conditional writes (on moto's DynamoDB, in the A/B table as
template.yaml defines it) and the in-memory fake the registry tests use."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from mlops_core.adapters.dynamodb_leases import DynamoDbLeases, leases_from_environment

from tests.fakes.leases import FakeLeases, ManualTime


@pytest.fixture
def clock() -> ManualTime:
    return ManualTime(now=1_800_000_000.25)


@pytest.fixture(params=["dynamodb", "memory"])
def store(request: pytest.FixtureRequest, clock: ManualTime) -> Any:
    if request.param == "memory":
        return FakeLeases(now=clock)
    table = request.getfixturevalue("dynamodb_table")
    return DynamoDbLeases(boto3.client("dynamodb"), table, now=clock)


def test_a_free_name_is_taken_and_held_until_it_runs_out(store, clock: ManualTime) -> None:
    lease = store.acquire("iris-classifier/production", "a", 60)
    assert (lease.name, lease.owner, lease.expires_at) == ("iris-classifier/production", "a", clock.now + 60)
    assert store.holder("iris-classifier/production") == lease
    clock.now += 59.9
    assert store.holder("iris-classifier/production") == lease
    clock.now += 0.1
    assert store.holder("iris-classifier/production") is None


def test_another_owner_is_refused_while_the_lease_runs_and_changes_nothing(store, clock: ManualTime) -> None:
    first = store.acquire("n", "a", 60)
    clock.now += 30
    assert store.acquire("n", "b", 60) is None
    assert store.holder("n") == first
    assert store.release("n", "b") is False
    assert store.holder("n") == first


def test_the_owner_renews_and_anyone_takes_an_expired_lease(store, clock: ManualTime) -> None:
    store.acquire("n", "a", 60)
    clock.now += 30
    assert store.acquire("n", "a", 60).expires_at == clock.now + 60
    clock.now += 61
    taken = store.acquire("n", "b", 10)
    assert taken.owner == "b" and store.holder("n") == taken


def test_release_frees_the_name_for_the_next_owner(store) -> None:
    store.acquire("n", "a", 60)
    assert store.release("n", "a") is True
    assert store.holder("n") is None
    assert store.release("n", "a") is False
    assert store.acquire("n", "b", 60).owner == "b"


def test_names_are_independent(store) -> None:
    assert store.acquire("m/registration/k1", "a", 60) is not None
    assert store.acquire("m/registration/k2", "b", 60) is not None
    assert store.acquire("m/production", "c", 60) is not None


def test_leases_live_beside_the_ab_items_with_a_ttl_the_table_expires(dynamodb_table: str, clock: ManualTime) -> None:
    client = boto3.client("dynamodb")
    DynamoDbLeases(client, dynamodb_table, now=clock).acquire("m/production", "a", 60)
    item = client.get_item(TableName=dynamodb_table, Key={"pk": {"S": "lease#m/production"}, "sk": {"S": "lease"}})
    assert item["Item"]["owner"] == {"S": "a"}
    assert int(item["Item"]["expires_at"]["N"]) == 1_800_000_061  # whole seconds, rounded up


def test_other_table_errors_are_not_taken_for_a_refusal(aws: None, clock: ManualTime) -> None:
    leases = DynamoDbLeases(boto3.client("dynamodb"), "no-such-table", now=clock)
    with pytest.raises(Exception, match="ResourceNotFoundException"):
        leases.acquire("n", "a", 60)
    with pytest.raises(Exception, match="ResourceNotFoundException"):
        leases.release("n", "a")


def test_the_environment_names_the_table_or_there_are_no_leases(dynamodb_table: str, monkeypatch) -> None:
    found = leases_from_environment()
    assert isinstance(found, DynamoDbLeases) and found.table_name == dynamodb_table
    monkeypatch.delenv("AB_TABLE")
    assert leases_from_environment() is None
