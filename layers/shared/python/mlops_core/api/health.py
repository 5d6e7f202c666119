"""GET /health: is a model loaded, can the registry and the storage be reached."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MAX_DETAIL = 300


def _probe(check: Callable[[], Any]) -> dict[str, Any]:
    try:
        check()
    except Exception as error:  # a health check reports every failure instead of raising it
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:_MAX_DETAIL]}
    return {"ok": True}


def check_health(
    loaded_versions: Callable[[], dict[str, str]],
    registry_probe: Callable[[], Any],
    storage_probes: dict[str, Callable[[], Any]],
) -> tuple[bool, dict[str, Any]]:
    """(healthy, details). Healthy when a model can serve and every dependency answers."""
    registry = _probe(registry_probe)
    storage = {name: _probe(probe) for name, probe in storage_probes.items()}
    models: dict[str, str] = {}
    models_check = _probe(lambda: models.update(loaded_versions()))
    healthy = registry["ok"] and all(item["ok"] for item in storage.values()) and models_check["ok"] and bool(models)
    details: dict[str, Any] = {
        "status": "ok" if healthy else "unavailable",
        "models": models,
        "registry": registry,
        "storage": storage,
    }
    if not models_check["ok"]:
        details["models_error"] = models_check["error"]
    elif not models:
        details["models_error"] = "no model registered yet: run the pipeline to train and promote one"
    return healthy, details
