"""GET /health: can a model serve, is every alias the registry names loaded, do the registry and storage answer.

Three states, so a load balancer and a person read the same answer:
- "ready" (HTTP 200): every alias set in the registry is loaded, and the registry and every store answer;
- "degraded" (HTTP 200): models serve, but something is wrong: the registry or a store cannot be reached (the
  cached models keep serving), or an alias set in the registry is not loaded;
- "unavailable" (HTTP 503): no model can serve.
The body is public: failures are named by a short reason class (`unreachable`, `timed out`, `refused (Code)`,
`failed (ErrorType)`), never by exception text, which can hold internal URLs and hostnames.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mlops_core.api.errors import failure_reason
from mlops_core.variants import VARIANTS

READY, DEGRADED, UNAVAILABLE = "ready", "degraded", "unavailable"
NO_MODEL_YET = "no model registered yet: run the pipeline to train and promote one"


def _probe(check: Callable[[], Any]) -> tuple[Any, str | None]:
    try:
        return check(), None
    except Exception as error:  # a health check reports every failure instead of raising it
        return None, failure_reason(error)


def aliases_in(registry: Any) -> dict[str, str]:
    """{alias: version} of the variants' aliases set in the registry; raises when it cannot be asked."""
    found = {alias: registry.version_for(alias) for alias in VARIANTS}
    return {alias: str(info.version) for alias, info in found.items() if info is not None}


def check_health(
    serving: Callable[[], Mapping[str, str]],
    registry_aliases: Callable[[], Mapping[str, str]],
    storage_probes: Mapping[str, Callable[[], Any]],
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body).

    `serving` gives {alias: version} of the models that can serve now (loading them if need be);
    `registry_aliases` asks the registry which aliases are set, as {alias: version}; each storage probe raises
    when its store cannot be used.
    """
    models, models_failure = _probe(serving)
    models = {str(alias): str(version) for alias, version in (models or {}).items()}
    aliases, registry_failure = _probe(registry_aliases)
    registry: dict[str, Any] = {"ok": registry_failure is None}
    if registry_failure is None:
        registry["aliases"] = {str(alias): str(version) for alias, version in (aliases or {}).items()}
    else:
        registry["error"] = registry_failure
    storage: dict[str, dict[str, Any]] = {}
    for name, probe in storage_probes.items():
        _, failure = _probe(probe)
        storage[name] = {"ok": True} if failure is None else {"ok": False, "error": failure}

    problems = [] if registry_failure is None else [f"registry {registry_failure}"]
    problems += [f"{name} {item['error']}" for name, item in storage.items() if not item["ok"]]
    problems += [
        f"{alias} v{version} not loaded"
        for alias, version in registry.get("aliases", {}).items()
        if alias not in models
    ]
    body: dict[str, Any] = {"status": READY, "models": models, "registry": registry, "storage": storage}
    if not models:
        if models_failure is not None:
            problems.insert(0, f"loading models failed ({models_failure})")
        elif registry_failure is None and not registry["aliases"]:
            problems.insert(0, NO_MODEL_YET)
        reason = "no model can serve"
        if problems:
            reason += ": " + "; ".join(problems)
        body.update(status=UNAVAILABLE, reason=reason)
        return 503, body
    if problems:
        body.update(status=DEGRADED, reason="; ".join(problems))
    return 200, body
