"""Manual promotion through the API: the staged version becomes Production if the gates the pipeline
recorded on it passed, or whatever they say when the caller forces it with a reason.

A gate passes as it does for the pipeline (`policy.OFFLINE_PASSES`, `policy.ONLINE_PASSES`); a gate with no
recorded verdict has not passed. Either way the version keeps an audit: promoted_by and promotion_reason (the
registry's), gate.forced and gate.gates_seen, and the same in its promotion event's evidence. The move is
decided against the Production version read here, so a promotion or rollback that lands in between makes
this one fail (ProductionChangedError, 409) instead of silently replacing it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from mlops_core import gate_tags
from mlops_core.api.parsing import parse_management_request, require_object
from mlops_core.exceptions import GatesNotPassedError, InvalidRequestError, NoModelError
from mlops_core.policy import OFFLINE_PASSES, ONLINE_PASSES
from mlops_core.variants import PRODUCTION, STAGING

if TYPE_CHECKING:
    from mlops_core.registry import PromotionRecord, VersionInfo

DEFAULT_REASON = "promoted through the API"
_FIELDS = frozenset({"force", "reason", "actor"})
_GATES = (("offline", gate_tags.OFFLINE, OFFLINE_PASSES), ("online", gate_tags.ONLINE, ONLINE_PASSES))


class PromotingRegistry(Protocol):
    """What a manual promotion needs of mlops_core.registry.ModelRegistry."""

    @property
    def model_name(self) -> str: ...

    def staged_version(self) -> dict[str, Any] | None: ...

    def version_for(self, alias: str) -> VersionInfo | None: ...

    def promote(
        self, version: str, *, actor: str, reason: str, evidence: dict[str, Any], expected_production: str | None
    ) -> PromotionRecord: ...

    def record_evidence(self, version: str, *, metrics: dict[str, float], tags: dict[str, str]) -> None: ...


@dataclass(frozen=True)
class PromoteRequest:
    actor: str
    reason: str
    force: bool


def parse_promote_request(body: Any) -> PromoteRequest:
    """`{"force": bool, "reason": str, "actor": str}`, every field optional except `reason` when forcing."""
    fields = dict(require_object(body, _FIELDS))
    force = fields.pop("force", False)
    if not isinstance(force, bool):
        raise InvalidRequestError("'force' must be true or false", "force")
    if force and "reason" not in fields:
        raise InvalidRequestError("'reason' is required with force: say why the recorded gates are bypassed", "reason")
    request = parse_management_request(fields, DEFAULT_REASON)
    return PromoteRequest(actor=request.actor, reason=request.reason, force=force)


def gates_seen(tags: dict[str, str]) -> dict[str, str | None]:
    """The verdicts recorded on a version, None for a gate with none."""
    return {gate: tags.get(tag) for gate, tag, _ in _GATES}


def failed_gates(seen: dict[str, str | None]) -> list[str]:
    """One phrase per gate that has not passed, in gate order; empty when both passed."""
    failed = []
    for gate, _, passes in _GATES:
        verdict = seen[gate]
        recorded = "recorded no verdict" if verdict is None else f"recorded {json.dumps(verdict)}"
        if verdict not in passes:
            failed.append(f"the {gate} gate {recorded} (it passes on {' or '.join(passes)})")
    return failed


def promote_staged(registry: PromotingRegistry, request: PromoteRequest) -> dict[str, Any]:
    """Promote the staged version (see the module docstring); the promotion record with `forced` and
    `gates_seen`. NoModelError when nothing is staged, GatesNotPassedError naming the failed gates when
    not forced."""
    staged = registry.staged_version()
    if staged is None:
        raise NoModelError(f"no model registered under alias '{STAGING}' for model {registry.model_name}")
    version = staged["version"]
    seen = gates_seen(staged["tags"])
    failed = failed_gates(seen)
    if failed and not request.force:
        raise GatesNotPassedError(
            f"v{version} was not promoted: {'; '.join(failed)}. To promote it anyway, send "
            '{"force": true, "reason": "<why>"} with the management key.'
        )
    production = registry.version_for(PRODUCTION)
    record = registry.promote(
        version,
        actor=request.actor,
        reason=request.reason,
        evidence={"source": "api", "forced": request.force, "gates_seen": seen},
        expected_production=None if production is None else production.version,
    )
    registry.record_evidence(
        version,
        metrics={},
        tags={
            gate_tags.STATE: gate_tags.PROMOTED,
            gate_tags.DECISION: "forced_through_api" if request.force else "promoted_through_api",
            gate_tags.FORCED: str(request.force).lower(),
            gate_tags.GATES_SEEN: json.dumps(seen, sort_keys=True),
        },
    )
    return {**record.to_dict(), "forced": request.force, "gates_seen": seen}
