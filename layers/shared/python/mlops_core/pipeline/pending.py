"""find_pending_candidate: is a candidate waiting in Staging for its online evidence?

A run with one checks that candidate's evidence, whether or not its own batch drifted, and promotes it, retires
it or keeps it waiting; it trains nothing new meanwhile, so the evidence a candidate gathers is never thrown away
by the next drifted batch. The Choice after this step reads `$.pending.found`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_core import gate_tags
from mlops_core.contracts import PendingOutput

if TYPE_CHECKING:
    from mlops_core.pipeline.deps import Deps


def run(state: dict[str, Any], deps: Deps) -> PendingOutput:
    staged = deps.registry.staged_version()
    tags = (staged or {}).get("tags") or {}
    if staged is None or tags.get(gate_tags.STATE) != gate_tags.PENDING:
        return PendingOutput(found=False, version=None, staged_at=None, offline_verdict=None, staged_by_run=None)
    return PendingOutput(
        found=True,
        version=str(staged["version"]),
        staged_at=tags.get(gate_tags.STAGED_AT) or staged.get("created_at"),
        offline_verdict=tags.get(gate_tags.OFFLINE),
        staged_by_run=tags.get(gate_tags.RUN_ID),
    )
