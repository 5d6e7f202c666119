"""Registration under a claim on the idempotency key: a real MLflow sqlite registry, the in-memory lease store
and a clock the test moves (the threads-at-once version, on the emulator, is in tests/integration)."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_core.adapters.mlflow_registry import MlflowModelRegistry
from mlops_core.exceptions import LeaseLostError, LeaseTimeoutError
from mlops_core.leases import Lease
from mlops_core.training.register import (
    REGISTRATION_LEASE_SECONDS,
    claim_registration,
    register_candidate,
    registration_lease,
)

from tests.fakes.leases import FakeLeases, ManualTime
from tests.support.candidates import small_candidate

MODEL = "iris-classifier"
KEY = "iris-0123456789abcdef01234567"
LEASE = registration_lease(MODEL, KEY)


@pytest.fixture
def story() -> ManualTime:
    return ManualTime()


@pytest.fixture
def leases(story: ManualTime) -> FakeLeases:
    return FakeLeases(now=story)


def register(leases: FakeLeases, owner: str, story: ManualTime, **overrides: Any) -> dict:
    return register_candidate(
        small_candidate(),
        model_name=MODEL,
        train_uris=["s3://data/datasets/iris/baseline.parquet"],
        holdout_uri="s3://data/splits/run-1/holdout.parquet",
        drift_summary={"detected": True},
        idempotency_key=KEY,
        params={"run_id": owner},
        leases=leases,
        owner=owner,
        waiting=story.waiting(60, poll_seconds=2),
        **overrides,
    )


def versions() -> list[str]:
    import mlflow

    return sorted(str(v.version) for v in mlflow.MlflowClient().search_model_versions(f"name = '{MODEL}'"))


def claim(leases: FakeLeases, owner: str, story: ManualTime, seconds: float = 60) -> dict | None:
    import mlflow

    return claim_registration(
        mlflow.MlflowClient(), MODEL, KEY, leases=leases, owner=owner, waiting=story.waiting(seconds, poll_seconds=2)
    )


def test_the_first_claim_holds_the_key_until_its_version_is_registered(mlflow_tracking_uri, leases, story) -> None:
    assert claim(leases, "exec-a", story) is None
    assert leases.holder(LEASE) == Lease(LEASE, "exec-a", story.now + REGISTRATION_LEASE_SECONDS)

    first = register(leases, "exec-a", story)

    assert (first["model_version"], first["reused"]) == ("1", False)
    assert leases.holder(LEASE) is None  # given up once the version exists
    again = claim(leases, "exec-b", story)
    assert (again["model_version"], again["reused"]) == ("1", True)
    assert versions() == ["1"]


def test_a_second_execution_waits_for_the_first_ones_version_instead_of_training(
    mlflow_tracking_uri, leases, story
) -> None:
    assert claim(leases, "exec-a", story) is None
    # exec-b finds the key claimed; while it waits, exec-a finishes training and registers.
    story.steps = [lambda: None, lambda: register(leases, "exec-a", story)]

    second = claim(leases, "exec-b", story)

    assert (second["model_version"], second["reused"]) == ("1", True)
    assert story.slept == [2, 2]
    assert versions() == ["1"]
    assert leases.holder(LEASE) is None


def test_waiting_for_a_live_claim_is_bounded_with_a_clear_error(mlflow_tracking_uri, leases, story) -> None:
    assert claim(leases, "arn:execution:pipeline:first", story) is None

    with pytest.raises(LeaseTimeoutError) as error:
        claim(leases, "exec-b", story, seconds=10)

    message = str(error.value)
    assert f"{LEASE} is held by arn:execution:pipeline:first until" in message
    assert "waited 10 s" in message and "a later run reuses its version" in message
    assert versions() == []


def test_a_claim_left_by_a_crashed_execution_expires_and_the_next_one_trains(
    mlflow_tracking_uri, leases, story
) -> None:
    assert claim(leases, "crashed", story) is None
    story.now += REGISTRATION_LEASE_SECONDS  # the crashed attempt's function timed out long ago

    assert claim(leases, "exec-b", story) is None
    assert register(leases, "exec-b", story)["model_version"] == "1"


def test_a_retry_with_the_same_owner_takes_its_own_claim_back_at_once(mlflow_tracking_uri, leases, story) -> None:
    assert claim(leases, "arn:execution:pipeline:run-1", story) is None
    assert claim(leases, "arn:execution:pipeline:run-1", story) is None
    assert story.slept == []
    assert register(leases, "arn:execution:pipeline:run-1", story)["model_version"] == "1"


class StolenAtRenewal(FakeLeases):
    """The claim runs out while the model is being logged, and another execution takes it."""

    def acquire(self, name: str, owner: str, seconds: float) -> Lease | None:
        if owner == "slow" and self.holder(name) is not None and self.holder(name).owner == "slow":
            self.leases.pop(name)
            super().acquire(name, "thief", seconds)
        return super().acquire(name, owner, seconds)


def test_a_claim_lost_before_the_version_is_created_registers_nothing(mlflow_tracking_uri, story) -> None:
    leases = StolenAtRenewal(now=lambda: story.now)
    with pytest.raises(LeaseLostError, match=f"the lease on {LEASE} held by slow ran out before its write: thief"):
        register(leases, "slow", story)
    assert versions() == []
    assert leases.holder(LEASE).owner == "thief"  # the loser's clean-up leaves the thief's claim alone


def test_a_failed_registration_gives_the_claim_up(mlflow_tracking_uri, leases, story, monkeypatch) -> None:
    import mlflow

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("registry refused")

    monkeypatch.setattr(mlflow, "register_model", refuse)
    with pytest.raises(RuntimeError, match="registry refused"):
        register(leases, "exec-a", story)
    assert leases.holder(LEASE) is None


def test_the_adapter_registers_under_the_claim_its_lookup_took(
    mlflow_tracking_uri, leases, story, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a new experiment's artifacts go to ./mlruns on a sqlite store
    first = MlflowModelRegistry(MODEL, experiment_name="iris-pipeline", leases=leases, owner="container-a")
    second = MlflowModelRegistry(MODEL, experiment_name="iris-pipeline", leases=leases, owner="container-b")

    assert first.find_registration(KEY, owner="arn:execution:run-1") is None
    assert leases.holder(LEASE).owner == "arn:execution:run-1"
    with pytest.raises(LeaseTimeoutError):
        claim(leases, "container-b", story, seconds=4)

    registration = first.register(
        small_candidate(),
        train_uris=["s3://data/a"],
        holdout_uri="s3://data/b",
        drift_summary={},
        idempotency_key=KEY,
        params={},
    )
    assert (registration["model_version"], registration["reused"]) == ("1", False)
    reused = second.find_registration(KEY)
    assert (reused["model_version"], reused["reused"]) == ("1", True)
    assert first.staged_version()["version"] == "1"
    assert leases.holder(LEASE) is None
    # taken by the lookup, taken again by register() as the same owner, renewed right before the version
    assert [owner for name, owner in leases.acquired if name == LEASE] == ["arn:execution:run-1"] * 3


def test_a_longer_training_gets_a_longer_claim(mlflow_tracking_uri, leases, story) -> None:
    registry = MlflowModelRegistry(MODEL, experiment_name="x", leases=leases, registration_lease_seconds=4 * 3600)
    assert registry.find_registration(KEY) is None
    assert leases.holder(LEASE).expires_at == story.now + 4 * 3600
    story.now += 3 * 3600  # a default claim would have run out long ago
    with pytest.raises(LeaseTimeoutError):
        claim(leases, "exec-b", story, seconds=4)
