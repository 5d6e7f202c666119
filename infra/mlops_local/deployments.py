"""What `mlops deploy` recorded about a stack it put on LocalStack or AWS, and which stack a command works on.

A successful deploy to a target other than the embedded emulator writes `targets/<name>.json` in the state
folder: the target (name, endpoint, region, deployment bucket), the stack's name, its outputs, and the parameter
values it runs with (the template's defaults included, NoEcho ones such as ApiKey left out). A later deploy to
the same target replaces the record. The embedded stack keeps its own record, `stack.json`.

`choose` picks the stack a command works on: the one `--target` names; else the embedded stack when one is
recorded; else the one target a deploy recorded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mlops_core import settings

from mlops_local.exceptions import StackNotUpError, ToolError
from mlops_local.persistence import write_atomically
from mlops_local.targets import Target

EMULATOR = "emulator"
RECORDS_DIR = "targets"
RECORDED_TARGETS = ("localstack", "aws")
NOT_UP = (
    "the stack is not up: run `mlops up` (or `make demo`) first, or deploy one with "
    "`mlops deploy --target localstack|aws`"
)


@dataclass(frozen=True)
class Deployment:
    name: str  # "localstack" | "aws"
    endpoint_url: str | None  # None on AWS
    region: str
    deploy_bucket: str
    stack_name: str
    outputs: dict[str, str]
    parameters: dict[str, str]  # the values the stack runs with, NoEcho ones left out
    deployed_at: str  # ISO 8601, UTC

    def target(self) -> Target:
        return Target(self.name, self.endpoint_url, self.region, self.deploy_bucket)

    @property
    def dataset(self) -> str:
        return self.parameters.get("DatasetName") or settings.DEFAULTS[settings.DATASET]

    @property
    def mlflow_url(self) -> str:
        """MLflow as the reports link to it: for a person, not for the functions."""
        return self.parameters.get("MlflowUiUrl") or self.parameters.get("MlflowTrackingUri", "")

    @property
    def api_url(self) -> str:
        """The prediction API from this machine. On LocalStack the ApiUrl output is the address the functions
        use (LocalStackHost, inside the compose network); from here the same path is under the endpoint."""
        url = self.outputs.get("ApiUrl", "")
        inside = f"http://{self.parameters.get('LocalStackHost')}/"
        if self.endpoint_url and self.parameters.get("LocalStackHost") and url.startswith(inside):
            return f"{self.endpoint_url}/{url[len(inside) :]}"
        return url

    @property
    def gateway_host(self) -> str:
        """host:port of the endpoint, as LOCALSTACK_HOST and awslocal take it; empty on AWS."""
        return urlsplit(self.endpoint_url).netloc if self.endpoint_url else ""

    def unreachable_hint(self) -> str:
        if self.name == "localstack":
            return f"is LocalStack up at {self.endpoint_url}? (`docker compose up -d localstack`)"
        return f"check the network and the region ({self.region})"


def deployment_of(
    target: Target, stack_name: str, outputs: dict[str, str], parameters: dict[str, str], template: dict[str, Any]
) -> Deployment:
    """The record of a deploy of `template` with `parameters` (those it was given; the others take defaults)."""
    return Deployment(
        name=target.name,
        endpoint_url=target.endpoint_url,
        region=target.region,
        deploy_bucket=target.deploy_bucket,
        stack_name=stack_name,
        outputs=dict(outputs),
        parameters=effective_parameters(template, parameters),
        deployed_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def effective_parameters(template: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    """Every parameter's value, given or the template's default; NoEcho parameters (secrets) are left out."""
    values: dict[str, str] = {}
    for name, declared in template.get("Parameters", {}).items():
        if declared.get("NoEcho"):
            continue
        if name in given:
            values[name] = given[name]
        elif "Default" in declared:
            values[name] = str(declared["Default"])
    return values


def record_path(state_dir: Path, name: str) -> Path:
    return state_dir / RECORDS_DIR / f"{name}.json"


def save(state_dir: Path, deployment: Deployment) -> Path:
    path = record_path(state_dir, deployment.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, (json.dumps(asdict(deployment), indent=2) + "\n").encode())
    return path


def load(state_dir: Path, name: str) -> Deployment:
    path = record_path(state_dir, name)
    try:
        raw = json.loads(path.read_text())
        return Deployment(**{f.name: raw[f.name] for f in fields(Deployment)})
    except FileNotFoundError:
        raise ToolError(f"no deploy to {name} is recorded in {state_dir}: run `mlops deploy --target {name}`") from None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ToolError(
            f"{path} is not a deploy record ({type(exc).__name__}: {exc}): deploy again with "
            f"`mlops deploy --target {name}`"
        ) from None


def recorded(state_dir: Path) -> list[str]:
    """The targets a deploy recorded in `state_dir`, in a fixed order."""
    return [name for name in RECORDED_TARGETS if record_path(state_dir, name).is_file()]


def choose(state_dir: Path, requested: str | None, *, embedded: bool) -> str:
    """The target a command works on; `embedded` says whether the embedded stack is recorded (stack.json)."""
    if requested is not None:
        if requested != EMULATOR and requested not in recorded(state_dir):
            raise ToolError(
                f"no deploy to {requested} is recorded in {state_dir}: run `mlops deploy --target {requested}` "
                f"first{_others(state_dir, embedded)}"
            )
        return requested
    if embedded:
        return EMULATOR
    names = recorded(state_dir)
    if not names:
        raise StackNotUpError(NOT_UP)
    if len(names) > 1:
        raise ToolError(
            f"deploys to {' and '.join(names)} are recorded in {state_dir} and no embedded stack: "
            "pick one with --target"
        )
    return names[0]


def _others(state_dir: Path, embedded: bool) -> str:
    known = ([EMULATOR] if embedded else []) + recorded(state_dir)
    return f", or pick one of: {', '.join(known)}" if known else ""
