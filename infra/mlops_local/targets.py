"""Where a deploy goes: the embedded emulator, LocalStack or AWS, picked by MLOPS_TARGET or --target."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any

from mlops_local import environment
from mlops_local.exceptions import DeployError

DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
DEFAULT_REGION = "us-east-1"
# Where emulated targets keep packaged code; on AWS the bucket is named after the account and region.
EMULATED_DEPLOY_BUCKET = "mlops-deployment-artifacts"
_IMAGE_ONLY_DROPPED = ("CodeUri", "Handler", "Runtime", "Layers")
# docker-compose.yml's network, as LocalStack's Lambda containers see it (LAMBDA_DOCKER_NETWORK), and what a
# browser on the host reaches. A deploy to LocalStack passes these unless given: see `Target.default_parameters`.
COMPOSE_LOCALSTACK_HOST = "localstack:4566"
COMPOSE_MLFLOW_URL = "http://mlflow:5000"
COMPOSE_MLFLOW_UI_URL = "http://localhost:5000"


@dataclass(frozen=True)
class Target:
    name: str  # "emulator" | "localstack" | "aws"
    endpoint_url: str | None
    region: str
    deploy_bucket: str
    image_uri: str | None = None

    @property
    def emulated(self) -> bool:
        return self.endpoint_url is not None

    def client(self, service: str) -> Any:
        import boto3

        kwargs: dict[str, Any] = {"region_name": self.region}
        if self.emulated:
            # Real credentials must never be sent to the emulator or LocalStack by accident.
            kwargs.update(endpoint_url=self.endpoint_url, **environment.CLIENT_CREDENTIALS)
        return boto3.client(service, **kwargs)

    def default_parameters(self) -> dict[str, str]:
        """Template parameters this target needs unless the deploy names them.

        On LocalStack, those of docker-compose.yml: the functions run in its network and reach LocalStack's
        gateway (the API) and MLflow by service name, while the reports link to what a browser on the host
        reaches (MLflow's published port, this endpoint for the reports bucket).
        """
        if self.name != "localstack" or not self.endpoint_url:
            return {}
        return {
            "LocalStackHost": COMPOSE_LOCALSTACK_HOST,
            "MlflowTrackingUri": COMPOSE_MLFLOW_URL,
            "MlflowUiUrl": COMPOSE_MLFLOW_UI_URL,
            "S3PublicEndpoint": self.endpoint_url,
        }

    def prepare_template(self, template: dict[str, Any]) -> dict[str, Any]:
        if self.name == "aws":
            if not self.image_uri:
                raise DeployError("the aws target ships functions as one container image: pass --image-uri")
            return to_image_functions(template, self.image_uri)
        return template


def emulator_target(endpoint_url: str) -> Target:
    """The embedded emulator at `endpoint_url`, as `mlops up` deploys to it."""
    return Target("emulator", endpoint_url, DEFAULT_REGION, EMULATED_DEPLOY_BUCKET)


def resolve_target(name: str | None = None, *, endpoint_url: str | None = None, image_uri: str | None = None) -> Target:
    """An explicit argument beats MLOPS_TARGET, which beats the default (the embedded emulator)."""
    chosen = name or os.environ.get(environment.TARGET) or "emulator"
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION
    if chosen in ("emulator", "localstack"):
        endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT
        return Target(chosen, endpoint.rstrip("/"), region, EMULATED_DEPLOY_BUCKET)
    if chosen == "aws":
        import boto3

        account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
        return Target("aws", None, region, f"mlops-deployment-{account}-{region}", image_uri)
    raise DeployError(f"unknown target {chosen!r}: use emulator, localstack or aws")


def to_image_functions(template: dict[str, Any], image_uri: str) -> dict[str, Any]:
    """Rewrite zip functions that carry Docker metadata into image functions of one shared image.

    The image (Dockerfile at the root) holds functions/, app/ and the shared library under the task root, so a
    handler `app.lambda_handler` in `functions/<step>/` becomes `functions.<step>.app.lambda_handler`.
    """
    result = copy.deepcopy(template)
    function_globals = result.get("Globals", {}).get("Function", {})
    for key in _IMAGE_ONLY_DROPPED:
        function_globals.pop(key, None)
    default_handler = template.get("Globals", {}).get("Function", {}).get("Handler")
    for logical_id, resource in result.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function" or "Dockerfile" not in resource.get("Metadata", {}):
            continue
        props = resource["Properties"]
        code_dir = str(props.get("CodeUri", "")).strip("/")
        handler = props.get("Handler", default_handler)
        if not code_dir or not handler:
            raise DeployError(f"{logical_id}: image packaging needs CodeUri and Handler")
        module_prefix = code_dir.replace("/", ".")
        for key in _IMAGE_ONLY_DROPPED:
            props.pop(key, None)
        props["PackageType"] = "Image"
        props["ImageUri"] = image_uri
        props["ImageConfig"] = {"Command": [f"{module_prefix}.{handler}"]}
    return result
