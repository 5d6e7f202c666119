"""What moto's CloudFormation lacks for a stack's REST API to be invoked, and kept invocable across updates.

- AWS::ApiGateway::Stage: SAM turns an AWS::Serverless::Api's `StageName` into an AWS::ApiGateway::Deployment
  without a stage plus an AWS::ApiGateway::Stage that names the deployment. moto 5.2.5 has no model for the Stage
  and skips it with a warning, so the stack's API has no stage. `ApiGatewayStage` creates, replaces and deletes
  it through moto's API Gateway backend; its Ref is the stage name, as on AWS.
  Upstream: no issue yet; moto needs an AWS::ApiGateway::Stage model calling create_stage and delete_stage.
- Updating an AWS::ApiGateway::RestApi: moto's RestAPI cannot be updated, so a stack update that changes the
  API's Body (a route added in template.yaml) leaves no resource behind the logical id and the update fails.
  AWS updates the API in place, same id; `_update_rest_api` does that with put_rest_api (mode overwrite).
  Upstream: no issue yet; RestAPI needs update_from_cloudformation_json.

`apply()` installs both (idempotent); the emulator calls it before it serves.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from moto.core.common_models import CloudFormationModel

LOG = logging.getLogger(__name__)


def _backend(account_id: str, region_name: str) -> Any:
    from moto.apigateway.models import apigateway_backends

    return apigateway_backends[account_id][region_name]


def _deployment_id(value: Any) -> str | None:
    """moto's Deployment has no physical id, so `!Ref Deployment` hands the model itself on; a string is kept."""
    if value is None or isinstance(value, str):
        return value
    return str(value.to_json()["id"])


def _tags(value: Any) -> dict[str, str] | None:
    if isinstance(value, list):
        return {str(tag["Key"]): str(tag["Value"]) for tag in value}
    return dict(value) if isinstance(value, Mapping) else None


def _stage_key(properties: Mapping[str, Any]) -> tuple[str, str]:
    api_id, stage_name = properties.get("RestApiId"), properties.get("StageName")
    if not isinstance(api_id, str) or not isinstance(stage_name, str):
        raise ValueError(f"AWS::ApiGateway::Stage needs RestApiId and StageName, got {api_id!r} and {stage_name!r}")
    return api_id, stage_name


class ApiGatewayStage(CloudFormationModel):
    """One stage of a REST API, as a stack resource."""

    def __init__(self, rest_api_id: str, stage_name: str, account_id: str, region_name: str) -> None:
        self.rest_api_id = rest_api_id
        self.stage_name = stage_name
        self.account_id = account_id
        self.region_name = region_name

    @property
    def physical_resource_id(self) -> str:
        return self.stage_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::Stage"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> ApiGatewayStage:
        properties = cloudformation_json["Properties"]
        rest_api_id, stage_name = _stage_key(properties)
        _backend(account_id, region_name).create_stage(
            function_id=rest_api_id,
            stage_name=stage_name,
            deploymentId=_deployment_id(properties.get("DeploymentId")),
            variables={str(k): str(v) for k, v in (properties.get("Variables") or {}).items()},
            description=properties.get("Description", ""),
            tags=_tags(properties.get("Tags")),
            tracing_enabled=properties.get("TracingEnabled"),
        )
        return cls(rest_api_id, stage_name, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> ApiGatewayStage:
        # A new deployment, new variables or a new name: the stage is made again from the new properties,
        # once they are known to be complete.
        _stage_key(cloudformation_json["Properties"])
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        properties = cloudformation_json.get("Properties", {})
        if isinstance(properties.get("RestApiId"), str):
            cls(properties["RestApiId"], resource_name, account_id, region_name).delete(account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.apigateway.exceptions import RestAPINotFound, StageNotFoundException

        try:
            _backend(self.account_id, self.region_name).delete_stage(self.rest_api_id, self.stage_name)
        except (RestAPINotFound, StageNotFoundException):
            LOG.debug("stage %s of REST API %s was already gone", self.stage_name, self.rest_api_id)

    def is_created(self) -> bool:
        return True


def _update_rest_api(
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> Any:
    """The same API, its name, description and routes from the new properties (as the create patch reads them)."""
    properties = cloudformation_json["Properties"]
    body = properties.get("Body") or {}
    api_id = original_resource.to_dict()["id"]
    backend = _backend(account_id, region_name)
    name = properties.get("Name") or body.get("info", {}).get("title") or original_resource.to_dict()["name"]
    backend.update_rest_api(
        api_id,
        [
            {"op": "replace", "path": "/name", "value": name},
            {"op": "replace", "path": "/description", "value": properties.get("Description", "")},
        ],
    )
    if body:
        backend.put_rest_api(api_id, body, fail_on_warnings=False, mode="overwrite")
    return backend.get_rest_api(api_id)


def apply() -> None:
    """Install the Stage model and RestApi updates in moto's CloudFormation (idempotent)."""
    from moto.apigateway.models import RestAPI
    from moto.cloudformation import parsing

    RestAPI.update_from_cloudformation_json = classmethod(_update_rest_api)  # type: ignore[assignment]
    # moto caches its CloudFormation type map on first use; ApiGatewayStage must be in it.
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
