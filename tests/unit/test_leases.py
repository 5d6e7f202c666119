"""The waiting around a lease store (mlops_core.leases), on the in-memory store with a clock the test moves."""

from __future__ import annotations

import pytest
from mlops_core.exceptions import LeaseLostError, LeaseTimeoutError
from mlops_core.leases import claim, held, renew

from tests.fakes.leases import FakeLeases, ManualTime


@pytest.fixture
def time_() -> ManualTime:
    return ManualTime(now=1_000_000.0)


@pytest.fixture
def store(time_: ManualTime) -> FakeLeases:
    return FakeLeases(now=time_)


def test_a_free_lease_is_taken_at_once_and_renewed_by_its_owner(store: FakeLeases, time_: ManualTime) -> None:
    assert claim(store, "m/production", "a", lease_seconds=60, waiting=time_.waiting(10)) is None
    assert store.holder("m/production").owner == "a"
    time_.now += 30
    assert claim(store, "m/production", "a", lease_seconds=60, waiting=time_.waiting(10)) is None
    assert store.holder("m/production").expires_at == time_.now + 60
    assert time_.slept == []


def test_done_work_is_returned_without_taking_the_lease(store: FakeLeases, time_: ManualTime) -> None:
    assert claim(store, "k", "a", lease_seconds=60, waiting=time_.waiting(10), done=lambda: "v3") == "v3"
    assert store.holder("k") is None and store.acquired == []


def test_a_waiter_gets_the_holders_result_once_it_appears(store: FakeLeases, time_: ManualTime) -> None:
    store.acquire("k", "first", 600)
    results: list[str] = []
    time_.steps = [lambda: None, lambda: results.append("v7")]  # the first finishes during the 2nd sleep

    found = claim(
        store,
        "k",
        "second",
        lease_seconds=600,
        waiting=time_.waiting(30, poll_seconds=2),
        done=lambda: results[0] if results else None,
    )

    assert found == "v7"
    assert time_.slept == [2, 2]
    assert store.holder("k").owner == "first"  # the waiter never took it


def test_work_finished_between_the_check_and_the_acquire_gives_the_lease_back(
    store: FakeLeases, time_: ManualTime
) -> None:
    answers = iter([None, "v2"])  # not done before acquiring, done right after (the holder just released)

    assert claim(store, "k", "b", lease_seconds=60, waiting=time_.waiting(10), done=lambda: next(answers)) == "v2"
    assert store.holder("k") is None


def test_a_lease_left_by_a_crashed_holder_is_taken_over_once_it_runs_out(store: FakeLeases, time_: ManualTime) -> None:
    store.acquire("k", "crashed", 5)

    assert claim(store, "k", "b", lease_seconds=60, waiting=time_.waiting(30, poll_seconds=2)) is None
    assert store.holder("k").owner == "b"
    assert sum(time_.slept) >= 5


def test_waiting_is_bounded_and_the_error_names_the_holder(store: FakeLeases, time_: ManualTime) -> None:
    store.acquire("m/registration/key-1", "arn:execution:first", 960)
    with pytest.raises(LeaseTimeoutError) as error:
        claim(
            store,
            "m/registration/key-1",
            "b",
            lease_seconds=960,
            waiting=time_.waiting(10, poll_seconds=3),
            busy_hint="Retry later.",
        )
    message = str(error.value)
    assert "m/registration/key-1 is held by arn:execution:first until 1970-01-12T" in message
    assert "waited 10 s" in message and message.endswith("Retry later.")
    assert time_.slept == [3, 3, 3, 1]  # the last sleep ends at the deadline, not past it


def test_held_releases_however_the_block_ends(store: FakeLeases, time_: ManualTime) -> None:
    with held(store, "p", "a", lease_seconds=60, waiting=time_.waiting(1)) as confirm:
        confirm()
        assert store.holder("p").owner == "a"
    assert store.holder("p") is None
    with pytest.raises(RuntimeError), held(store, "p", "a", lease_seconds=60, waiting=time_.waiting(1)):
        raise RuntimeError("the guarded work failed")
    assert store.holder("p") is None


def test_confirm_fails_when_the_lease_ran_out_and_another_owner_took_it(store: FakeLeases, time_: ManualTime) -> None:
    lost = pytest.raises(LeaseLostError, match="p held by a ran out before its write: b holds it until")
    with lost, held(store, "p", "a", lease_seconds=60, waiting=time_.waiting(1)) as confirm:
        time_.now += 61
        assert store.acquire("p", "b", 60) is not None
        confirm()
    assert store.holder("p").owner == "b"  # a's exit does not release b's lease


def test_renewing_an_expired_lease_nobody_took_is_allowed(store: FakeLeases, time_: ManualTime) -> None:
    store.acquire("p", "a", 1)
    time_.now += 5
    renew(store, "p", "a", 60)
    assert store.holder("p").expires_at == time_.now + 60
