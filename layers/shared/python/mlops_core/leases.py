"""Leases: exclusive, expiring claims on a name, so that two executions never make the same registry write at
once (register a version for one idempotency key, move a model's `production` alias).

A lease belongs to one owner until the owner releases it or its time runs out, so an execution that crashes
while holding one blocks the others for at most the lease's length. Taking a lease again as the same owner
renews it: a retried step that kept its owner goes on where it stopped. The store does the compare-and-set
(`adapters.dynamodb_leases`: a DynamoDB conditional write); this module adds the bounded waiting.

Expiry times are wall-clock epoch seconds, compared across machines: the lengths chosen here (a minute and
more) dwarf the clock skew of NTP-synchronised hosts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from mlops_core.exceptions import LeaseLostError, LeaseTimeoutError

T = TypeVar("T")


@dataclass(frozen=True)
class Lease:
    name: str
    owner: str
    expires_at: float  # epoch seconds


class LeaseStore(Protocol):
    """Leases in a store that compares and sets in one step, whatever the number of writers."""

    def acquire(self, name: str, owner: str, seconds: float) -> Lease | None:
        """Take `name` for `owner` for `seconds` from now, or renew it when `owner` holds it already; None,
        changing nothing, while another owner holds an unexpired lease on it."""
        ...

    def release(self, name: str, owner: str) -> bool:
        """Give `name` up if `owner` holds it (True); otherwise change nothing (False)."""
        ...

    def holder(self, name: str) -> Lease | None:
        """The unexpired lease on `name`, or None when it is free."""
        ...


@dataclass(frozen=True)
class Waiting:
    """How long, and how often, a caller polls for a lease another owner holds."""

    seconds: float
    poll_seconds: float = 1.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)


def claim(
    store: LeaseStore,
    name: str,
    owner: str,
    *,
    lease_seconds: float,
    waiting: Waiting,
    done: Callable[[], T | None] = lambda: None,
    busy_hint: str = "",
) -> T | None:
    """Take the lease on `name` for `owner`, or learn that the work it guards is done already.

    Returns `done()`'s answer as soon as it is not None, checked before each attempt and again right after
    taking the lease (the holder may have finished and released in between: the lease is then given back);
    returns None once `owner` holds the lease and the work is still to do. Raises LeaseTimeoutError, naming
    the holder and `busy_hint`, when neither happened within `waiting.seconds`."""
    deadline = waiting.clock() + waiting.seconds
    while True:
        finished = done()
        if finished is not None:
            return finished
        if store.acquire(name, owner, lease_seconds) is not None:
            finished = done()
            if finished is not None:
                store.release(name, owner)
            return finished
        if waiting.clock() >= deadline:
            holder = store.holder(name)
            held = "" if holder is None else f" by {holder.owner} until {_iso(holder.expires_at)}"
            raise LeaseTimeoutError(f"{name} is held{held}; waited {waiting.seconds:g} s for it. {busy_hint}".rstrip())
        waiting.sleep(max(0.0, min(waiting.poll_seconds, deadline - waiting.clock())))


@contextmanager
def held(
    store: LeaseStore, name: str, owner: str, *, lease_seconds: float, waiting: Waiting, busy_hint: str = ""
) -> Iterator[Callable[[], None]]:
    """The lease on `name` for the block, released however it ends. Yields `confirm()`: call it right before
    the write the lease guards; it renews the lease and raises LeaseLostError if it ran out and another owner
    took it meanwhile."""
    claim(store, name, owner, lease_seconds=lease_seconds, waiting=waiting, busy_hint=busy_hint)

    def confirm() -> None:
        renew(store, name, owner, lease_seconds)

    try:
        yield confirm
    finally:
        store.release(name, owner)


def renew(store: LeaseStore, name: str, owner: str, lease_seconds: float) -> None:
    """Extend `owner`'s lease on `name`; LeaseLostError when another owner holds it now."""
    if store.acquire(name, owner, lease_seconds) is None:
        holder = store.holder(name)
        now_held = "" if holder is None else f": {holder.owner} holds it until {_iso(holder.expires_at)}"
        raise LeaseLostError(
            f"the lease on {name} held by {owner} ran out before its write{now_held}; nothing was written, "
            "and the lease's length must exceed the longest time the work takes"
        )


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
