"""POST /models/promote: through the gates the pipeline recorded on the staged version, or past them when
forced with a reason; the audit left on the version either way. The app and its registry are test_api_routes'
(a real MLflow sqlite registry, moto's DynamoDB for the production lease)."""

from __future__ import annotations

import json

import pytest

from tests.functional import test_api_routes as routes
from tests.functional.test_api_routes import AUTH, IRIS, assert_error, post

# The app wired to a copy of the routes' registry, with its A/B table and reports bucket.
registry_template = routes.registry_template
clock = routes.clock
chalice_app = routes.chalice_app
client = routes.client


def record_gates(**verdicts: str) -> None:
    """The gate verdicts the pipeline records on the staged version (v2)."""
    from mlops_core import gate_tags
    from mlops_core.registry import ModelRegistry

    tags = {getattr(gate_tags, gate.upper()): verdict for gate, verdict in verdicts.items()}
    ModelRegistry(model_name=IRIS).record_evidence("2", metrics={}, tags=tags)


def version_tags(version: str) -> dict[str, str]:
    from mlops_core.registry import ModelRegistry

    return dict(ModelRegistry(model_name=IRIS).client.get_model_version(IRIS, version).tags)


@pytest.mark.parametrize(
    ("verdicts", "failed", "passed"),
    [
        ({}, ["offline gate recorded no verdict", "online gate recorded no verdict"], []),
        (
            {"offline": "not_significant", "online": "non_inferior"},
            ['offline gate recorded "not_significant"'],
            ["online"],
        ),
        (
            {"offline": "significant_improvement", "online": "continue"},
            ['online gate recorded "continue"'],
            ["offline"],
        ),
        ({"offline": "class_regression", "online": "inferior"}, ["class_regression", '"inferior"'], []),
    ],
)
def test_promotion_without_force_is_refused_naming_the_failed_gate(client, verdicts, failed, passed) -> None:
    record_gates(**verdicts)
    body = assert_error(
        post(client, "/models/promote", {"reason": "looks fine"}, AUTH), 409, None, "v2 was not promoted"
    )
    for phrase in failed:
        assert phrase in body["error"]
    for gate in passed:
        assert f"the {gate} gate" not in body["error"]
    assert '"force": true' in body["error"]
    assert client.get("/models/status").json_body["aliases"] == {"production": "1", "staging": "2"}
    assert "gate.forced" not in version_tags("2")


def test_promotion_through_passed_gates_is_recorded_as_not_forced(client) -> None:
    record_gates(offline="significant_improvement", online="non_inferior")
    response = post(client, "/models/promote", {"actor": "alice", "reason": "gates passed, releasing"}, AUTH)

    assert response.status_code == 200, response.body
    body = response.json_body
    assert (body["version"], body["previous_version"], body["by"], body["forced"]) == ("2", "1", "alice", False)
    assert body["gates_seen"] == {"offline": "significant_improvement", "online": "non_inferior"}
    tags = version_tags("2")
    assert (tags["promoted_by"], tags["promotion_reason"]) == ("alice", "gates passed, releasing")
    assert (tags["gate.state"], tags["gate.forced"], tags["gate.decision"]) == (
        "promoted",
        "false",
        "promoted_through_api",
    )
    assert json.loads(tags["gate.gates_seen"]) == body["gates_seen"]
    assert json.loads(tags["promotion_evidence"]) == {
        "forced": False,
        "gates_seen": body["gates_seen"],
        "source": "api",
    }
    assert client.get("/models/status").json_body["aliases"] == {"production": "2"}


def test_first_model_gates_pass_without_force(client) -> None:
    record_gates(offline="no_production_model", online="no_production_model")
    assert post(client, "/models/promote", None, AUTH).json_body["forced"] is False


def test_forced_promotion_bypasses_failed_gates_and_says_so(client) -> None:
    record_gates(offline="not_significant")
    response = post(client, "/models/promote", {"force": True, "reason": "hotfix for the label change"}, AUTH)

    assert response.status_code == 200, response.body
    assert (response.json_body["version"], response.json_body["forced"]) == ("2", True)
    tags = version_tags("2")
    assert (tags["gate.forced"], tags["gate.decision"], tags["promoted_by"]) == ("true", "forced_through_api", "api")
    assert tags["promotion_reason"] == "hotfix for the label change"
    assert json.loads(tags["gate.gates_seen"]) == {"offline": "not_significant", "online": None}


@pytest.mark.parametrize(
    ("body", "field", "match"),
    [
        ({"force": True}, "reason", "required with force"),
        ({"force": True, "reason": "  "}, "reason", "non-empty"),
        ({"force": "yes", "reason": "r"}, "force", "true or false"),
        ({"force": 1, "reason": "r"}, "force", "true or false"),
        ({"force": True, "reason": "r", "gates": "skip"}, "gates", "unknown field"),
    ],
)
def test_forcing_needs_a_reason_and_a_boolean(client, body, field, match) -> None:
    assert_error(post(client, "/models/promote", body, AUTH), 400, field, match)
    assert client.get("/models/status").json_body["aliases"]["production"] == "1"


def test_a_promotion_or_rollback_landing_meanwhile_makes_it_fail_instead_of_replacing_it(
    client, chalice_app, monkeypatch
) -> None:
    record_gates(offline="significant_improvement", online="non_inferior")
    registry = chalice_app.model_registry()
    read = registry.version_for

    def production_then_moved(alias: str):
        seen = read(alias)
        registry.client.delete_registered_model_alias(IRIS, "production")  # another caller's move, just after
        return seen

    monkeypatch.setattr(registry, "version_for", production_then_moved)
    body = assert_error(
        post(client, "/models/promote", {"reason": "r"}, AUTH), 409, None, "Production is unset, not v1"
    )
    assert "nothing was promoted" in body["error"]
    assert "promoted_by" not in version_tags("2")
