"""evaluate_candidate: the offline gate, the pre-registered test of ΔF1-macro (Staging − Production) on held-out
rows neither model was trained on: this run's, pooled with earlier runs' since Production was last a candidate.

The test's level comes from the ledger's spending rule; the test takes its number in the ledger with a
create-only write, so two runs at once never share a level and a retried step returns its recorded decision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_core.contracts import EvaluationOutput, Metrics, PooledRows
from mlops_core.decision import offline_decision
from mlops_core.decision.ledger import Ledger, LedgerEntry
from mlops_core.exceptions import MlopsError
from mlops_core.pipeline.context import RunContext, run_context, training_output
from mlops_core.pipeline.holdout import load_holdout, load_holdouts
from mlops_core.policy import offline_gate
from mlops_core.stats import classification_metrics, metrics_from_confusion

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.pipeline.deps import Deps
    from mlops_core.ports import Predictor

# Two runs evaluating at the same moment each retry once per slot the other took; more than this many in a row
# means something writes the ledger in a loop.
MAX_SLOT_ATTEMPTS = 5


class LedgerContentionError(MlopsError):
    """The ledger's next slot kept being taken by other runs."""


def run(state: dict[str, Any], deps: Deps) -> EvaluationOutput:
    ctx = run_context(state, deps)
    training, settings = training_output(state, deps), deps.settings
    staging_version = str(training["model_version"])
    production_version = deps.registry.production_version()
    staging = deps.registry.load_version(staging_version)

    if production_version is None:
        features, labels = load_holdout(deps.data, training["holdout_key"], ctx.config.target)
        return EvaluationOutput(
            production_version=None,
            staging_version=staging_version,
            production_metrics=None,
            staging_metrics=classification_metrics(labels, _predictions(staging, features)),
            decision=None,
            rows=PooledRows(own=len(labels), pooled=0, pooled_runs=0, test_number=None),
            passed=True,
            reason=offline_gate(None, has_production=False).reason,
        )

    production = deps.registry.load_version(production_version)
    ledger = Ledger(deps.data, ctx.dataset, settings.alpha)
    for _ in range(MAX_SLOT_ATTEMPTS):
        entries = ledger.entries()
        entry = ledger.own_entry(entries, ctx.run_id)
        if entry is None:
            entry = _test(state, ctx, deps, ledger, entries, staging, production)
            if not ledger.record(entry):
                continue  # another run took this test number: read the ledger again
        return _output(entry, production_version, staging_version)
    raise LedgerContentionError(
        f"the offline test could not take a number in {deps.data.uri(ledger.store.bucket)} after "
        f"{MAX_SLOT_ATTEMPTS} tries: other runs kept taking it"
    )


def _test(
    state: dict[str, Any],
    ctx: RunContext,
    deps: Deps,
    ledger: Ledger,
    entries: list[LedgerEntry],
    staging: Predictor,
    production: Predictor,
) -> LedgerEntry:
    settings = deps.settings
    training = training_output(state, deps)
    batch_key = state["drift"]["batch_key"]
    pooled_keys = ledger.poolable(entries, str(production.version), batch_key)
    features, labels, used = load_holdouts(
        deps.data, [training["holdout_key"], *pooled_keys], ctx.config.target, max_rows=settings.pool_max_rows
    )
    own_rows = used[0][1]
    decision = offline_decision(
        labels,
        _predictions(production, features),
        _predictions(staging, features),
        alpha=settings.alpha,
        alpha_t=ledger.level(entries),
        delta_min=settings.delta_min,
        margin=settings.power_margin,
        class_margin=settings.class_margin,
        class_alpha=settings.alpha,
        n_resamples=settings.bootstrap_resamples,
        seed=settings.bootstrap_seed,
    ).to_dict()
    return LedgerEntry(
        t=len(entries) + 1,
        run_id=ctx.run_id,
        alpha=settings.alpha,
        alpha_t=decision["alpha_t"],
        rejected=decision["rejected"],
        verdict=decision["verdict"],
        batch_key=batch_key,
        holdout_key=training["holdout_key"],
        own_rows=own_rows,
        pooled_keys=[key for key, _ in used[1:]],
        staging_version=str(staging.version),
        production_version=str(production.version),
        recorded_at=deps.clock.now().isoformat(),
        decision=dict(decision),
    )


def _output(entry: LedgerEntry, production_version: str, staging_version: str) -> EvaluationOutput:
    decision = entry["decision"]
    gate = offline_gate(decision, has_production=True)
    return EvaluationOutput(
        production_version=production_version,
        staging_version=staging_version,
        production_metrics=_metrics(decision, "production"),
        staging_metrics=_metrics(decision, "candidate"),
        decision=decision,  # type: ignore[typeddict-item]
        rows=PooledRows(
            own=entry["own_rows"],
            pooled=decision["n"] - entry["own_rows"],
            pooled_runs=len(entry["pooled_keys"]),
            test_number=entry["t"],
        ),
        passed=gate.passed,
        reason=gate.reason,
    )


def _metrics(decision: dict[str, Any], side: str) -> Metrics:
    """The metrics on the rows the test used, from the decision's confusion matrix (rows = true labels)."""
    return metrics_from_confusion(decision["confusion"][side])


def _predictions(model: Predictor, features: pd.DataFrame) -> list[str]:
    return [str(p) for p in model.predict(features[model.feature_names])]
