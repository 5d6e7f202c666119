"""The offline tests' ledger: one create-only S3 object per test, numbered, in the data bucket.

Why a ledger: the spending rule (`spending.lord_plus_plus`) needs every earlier test's level and outcome, held-out
rows are pooled across runs since the last promotion, and both must survive restarts and be the same for two runs
that evaluate at once. Test number t is taken by creating `…/<t>.json` with a create-only write: of two runs that
reach the test together, one gets t and the other finds it taken, re-reads the ledger and tests again as t + 1 at
that slot's level. A retried step finds its own run's entry and returns it unchanged, so a test is never counted
twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from mlops_core import layout
from mlops_core.data.exceptions import ObjectExistsError
from mlops_core.decision.spending import lord_plus_plus, telescoping_gamma
from mlops_core.exceptions import MlopsError

if TYPE_CHECKING:
    from mlops_core.ports import ObjectStore


class LedgerEntry(TypedDict):
    t: int
    run_id: str
    alpha: float
    alpha_t: float
    rejected: bool
    verdict: str
    batch_key: str  # the batch the held-out rows came from: a batch is pooled once, however often it ran
    holdout_key: str  # this run's own held-out rows: what later runs may pool
    own_rows: int
    pooled_keys: list[str]  # earlier runs' held-out rows this test also used
    staging_version: str
    production_version: str
    recorded_at: str
    decision: dict[str, Any]  # the whole offline decision, returned as is to a retried step


class LedgerCorruptError(MlopsError):
    """A ledger object that is not what this module writes: refuse to spend α on a history we cannot read."""


@dataclass(frozen=True)
class Ledger:
    store: ObjectStore
    dataset: str
    alpha: float

    def entries(self) -> list[LedgerEntry]:
        """Every recorded test, in order; the numbers must run 1, 2, … without a gap."""
        prefix = layout.ledger_prefix(self.dataset, self.alpha)
        keys = sorted(obj.key for obj in self.store.list(prefix) if obj.key.endswith(".json"))
        entries = [self._read(key) for key in keys]
        for expected, entry in enumerate(entries, start=1):
            if entry["t"] != expected:
                raise LedgerCorruptError(
                    f"{self.store.uri(prefix)}: test {expected} is missing (found {entry['t']}): "
                    "the ledger must not be edited by hand"
                )
        return entries

    def level(self, entries: list[LedgerEntry]) -> float:
        """The level LORD++ gives the next test (α_t of test len(entries) + 1)."""
        return lord_plus_plus(entries, alpha=self.alpha, gamma=telescoping_gamma)

    @staticmethod
    def own_entry(entries: list[LedgerEntry], run_id: str) -> LedgerEntry | None:
        return next((entry for entry in entries if entry["run_id"] == run_id), None)

    @staticmethod
    def poolable(entries: list[LedgerEntry], production_version: str, batch_key: str) -> list[str]:
        """Held-out keys of the tests since Production was itself a tested candidate (all tests when it never
        was: a first model, or one promoted by hand), newest first, one per batch and none of `batch_key`
        (a batch run again splits into the same rows). None of these rows trained either model."""
        since = 0
        for entry in entries:
            if entry["staging_version"] == production_version:
                since = entry["t"]
        keys, seen = [], {batch_key}
        for entry in reversed(entries):
            if entry["t"] > since and entry["batch_key"] not in seen:
                seen.add(entry["batch_key"])
                keys.append(entry["holdout_key"])
        return keys

    def record(self, entry: LedgerEntry) -> bool:
        """Take slot entry["t"]; False when another run took it first."""
        key = layout.ledger_entry_key(self.dataset, self.alpha, entry["t"])
        body = json.dumps(entry, allow_nan=False, sort_keys=True).encode()
        try:
            self.store.put_new(key, body, "application/json")
        except ObjectExistsError:
            return False
        return True

    def _read(self, key: str) -> LedgerEntry:
        try:
            entry = json.loads(self.store.get(key))
        except ValueError as exc:
            raise LedgerCorruptError(f"{self.store.uri(key)} is not JSON: {exc}") from None
        required = LedgerEntry.__annotations__
        if not isinstance(entry, Mapping) or not set(required) <= set(entry):
            raise LedgerCorruptError(f"{self.store.uri(key)} lacks fields of a ledger entry")
        return entry  # type: ignore[return-value]
