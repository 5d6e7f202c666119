"""LeaseStore in memory: one lock makes each acquire and release a compare-and-set, as the real store's
conditional writes are; time comes from `now`, so tests move it instead of waiting."""

from __future__ import annotations

import threading
from collections.abc import Callable

from mlops_core.leases import Lease, Waiting


class FakeLeases:
    def __init__(self, now: Callable[[], float] = lambda: 1_000_000.0) -> None:
        self.now = now
        self.leases: dict[str, Lease] = {}
        self.acquired: list[tuple[str, str]] = []  # (name, owner) of every successful acquire, renewals included
        self._lock = threading.Lock()

    def acquire(self, name: str, owner: str, seconds: float) -> Lease | None:
        with self._lock:
            current = self.leases.get(name)
            if current is not None and current.owner != owner and current.expires_at > self.now():
                return None
            lease = self.leases[name] = Lease(name, owner, self.now() + seconds)
            self.acquired.append((name, owner))
            return lease

    def release(self, name: str, owner: str) -> bool:
        with self._lock:
            current = self.leases.get(name)
            if current is None or current.owner != owner:
                return False
            del self.leases[name]
            return True

    def holder(self, name: str) -> Lease | None:
        with self._lock:
            current = self.leases.get(name)
            return current if current is not None and current.expires_at > self.now() else None


class ManualTime:
    """Epoch seconds that move only when the test moves them, or when waiting sleeps; a sleep first runs the
    next of `steps`, so a test can script what another execution does while this one waits."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []
        self.steps: list[Callable[[], object]] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if self.steps:
            self.steps.pop(0)()
        self.slept.append(seconds)
        self.now += seconds

    def waiting(self, seconds: float, poll_seconds: float = 1.0) -> Waiting:
        return Waiting(seconds=seconds, poll_seconds=poll_seconds, sleep=self.sleep, clock=self)
