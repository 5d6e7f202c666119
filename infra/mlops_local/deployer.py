"""Deploy template.yaml the way `sam package` + `sam deploy` would, to any CloudFormation endpoint.

Package local code (CodeUri, ContentUri) as zips in a deployment bucket, inline the state machine definition,
transform the SAM template with aws-sam-translator, then create or update the stack and wait for it. The same
path serves the embedded emulator, LocalStack and AWS; only the endpoint and the packaging differ.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_local.asl_check import check_definition
from mlops_local.exceptions import DeployError

if TYPE_CHECKING:
    from mlops_local.targets import Target

log = logging.getLogger(__name__)

_EXCLUDED_DIRS = {"__pycache__", ".chalice", ".pytest_cache", ".ruff_cache"}
_STABLE_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
_TERMINAL_OK = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
# "No updates are to be performed" leaves the stack as it was: after an update that rolled back it runs the
# template it rolled back to, which is this one.
_UNCHANGED_OK = {*_TERMINAL_OK, "UPDATE_ROLLBACK_COMPLETE"}
# A failed create ends ROLLBACK_COMPLETE on AWS; LocalStack 4.14 leaves the stack CREATE_FAILED.
_FAILED_CREATE = {"ROLLBACK_COMPLETE", "CREATE_FAILED"}
_TERMINAL_FAILED = {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
    "DELETE_COMPLETE",
    "DELETE_FAILED",
}


@dataclass
class DeployResult:
    stack_name: str
    status: str
    outputs: dict[str, str]
    packaged: dict[str, str] = field(default_factory=dict)  # logical id -> s3 uri
    seconds: float = 0.0


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML template, short-form intrinsics (!Ref, !Sub…) included."""
    from cfnlint.decode import cfn_yaml

    try:
        parsed = cfn_yaml.loads(path.read_text(), str(path))
    except Exception as exc:  # cfn-lint raises its own parse errors; the message is what a user needs
        raise DeployError(f"{path}: cannot parse template: {exc}") from exc
    # cfn-lint's nodes carry line marks; a plain JSON round trip gives ordinary dicts the translator accepts.
    return json.loads(json.dumps(parsed))


def zip_directory(directory: Path) -> bytes:
    """A reproducible zip of a folder: same content, same bytes, so unchanged code keeps its S3 key."""
    if not directory.is_dir():
        raise DeployError(f"code folder {directory} does not exist")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if any(part in _EXCLUDED_DIRS for part in relative.parts) or path.suffix == ".pyc":
                continue
            if path.is_file():
                info = zipfile.ZipInfo(relative.as_posix(), date_time=_STABLE_ZIP_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def package_template(
    template: dict[str, Any], base_dir: Path, s3: Any, bucket: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Upload local code and inline local definitions; returns the packaged template and what was uploaded."""
    packaged = copy.deepcopy(template)
    uploaded: dict[str, str] = {}
    for logical_id, resource in packaged.get("Resources", {}).items():
        kind = resource.get("Type")
        props = resource.setdefault("Properties", {})
        if kind == "AWS::Serverless::Function" and props.get("PackageType") != "Image":
            uploaded[logical_id] = props["CodeUri"] = _upload_code(
                base_dir, props.get("CodeUri"), logical_id, s3, bucket
            )
        elif kind == "AWS::Serverless::LayerVersion":
            # Lambda unpacks a layer into /opt; Python layers keep their code under python/.
            uploaded[logical_id] = props["ContentUri"] = _upload_code(
                base_dir, props.get("ContentUri"), logical_id, s3, bucket
            )
        elif kind == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            definition_path = base_dir / props.pop("DefinitionUri")
            try:
                definition = json.loads(definition_path.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise DeployError(f"{definition_path}: cannot read state machine definition: {exc}") from exc
            problems = check_definition(definition, substitutions=props.get("DefinitionSubstitutions", {}))
            if problems:
                raise DeployError(f"{definition_path}: invalid ASL: " + "; ".join(problems))
            props["Definition"] = definition
    return packaged, uploaded


def _upload_code(base_dir: Path, uri: Any, logical_id: str, s3: Any, bucket: str) -> str:
    if not isinstance(uri, str) or uri.startswith("s3://"):
        return uri
    body = zip_directory(base_dir / uri)
    key = f"artifacts/{logical_id}-{hashlib.sha256(body).hexdigest()[:16]}.zip"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def transform(template: dict[str, Any], parameters: dict[str, str], iam: Any, region: str) -> dict[str, Any]:
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template

    fragment = copy.deepcopy(template)
    values = dict(parameters)
    to_py27_compatible_template(fragment, values)
    # The session gives the translator the target's region for ARNs and pseudo parameters.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    loader = ManagedPolicyLoader(iam)
    try:
        translated = translator.translate(fragment, parameter_values=values, get_managed_policy_map=loader.load)
    except InvalidDocumentException as exc:
        # str() of a cause is its args tuple; `message` is the sentence that names the resource.
        causes = "; ".join(cause.message for cause in exc.causes)
        raise DeployError(f"template.yaml is not valid SAM: {causes}") from exc
    return undo_mark_unicode_str_in_template(translated)


def ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**kwargs)


def deploy(
    target: Target,
    *,
    template_path: Path,
    stack_name: str,
    parameters: dict[str, str] | None = None,
    timeout_seconds: float = 600,
) -> DeployResult:
    """Package, transform and create-or-update the stack; raises DeployError with the stack's own reasons."""
    started = time.monotonic()
    s3, cfn, iam = target.client("s3"), target.client("cloudformation"), target.client("iam")
    ensure_bucket(s3, target.deploy_bucket, target.region)

    template = load_template(template_path)
    template = target.prepare_template(template)
    packaged, uploaded = package_template(template, template_path.parent, s3, target.deploy_bucket)
    transformed = transform(packaged, parameters or {}, iam, target.region)

    body = json.dumps(transformed)
    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()]
    capabilities = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
    existing = stack_status(cfn, stack_name)
    if existing in _FAILED_CREATE:
        # A stack whose creation failed can only be deleted: updating it is refused, or answered "No updates
        # are to be performed" with the stack still failed. Delete it and create it again.
        log.info("stack %s is %s from a failed create: deleting it to create it again", stack_name, existing)
        cfn.delete_stack(StackName=stack_name)
        _wait(cfn, stack_name, {"DELETE_COMPLETE"}, timeout_seconds, allow_missing=True)
        existing = None
    large_body = _template_reference(s3, target.deploy_bucket, body)
    try:
        if existing is None:
            cfn.create_stack(StackName=stack_name, Parameters=params, Capabilities=capabilities, **large_body)
            wanted = {"CREATE_COMPLETE"}
        else:
            cfn.update_stack(StackName=stack_name, Parameters=params, Capabilities=capabilities, **large_body)
            wanted = {"UPDATE_COMPLETE"}
    except Exception as exc:
        if "No updates are to be performed" in str(exc):
            wanted = _UNCHANGED_OK
        else:
            raise DeployError(f"CloudFormation refused the stack: {exc}") from exc
    status = _wait(cfn, stack_name, wanted, timeout_seconds)
    return DeployResult(
        stack_name=stack_name,
        status=status,
        outputs=stack_outputs(cfn, stack_name),
        packaged=uploaded,
        seconds=time.monotonic() - started,
    )


def _template_reference(s3: Any, bucket: str, body: str) -> dict[str, str]:
    # CloudFormation takes at most 51,200 bytes inline; larger templates go through S3 as `sam deploy` does.
    if len(body.encode()) <= 51_200:
        return {"TemplateBody": body}
    key = f"templates/{hashlib.sha256(body.encode()).hexdigest()[:16]}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    return {"TemplateURL": f"{_loopback_as_localhost(s3.meta.endpoint_url.rstrip('/'))}/{bucket}/{key}"}


def _loopback_as_localhost(endpoint: str) -> str:
    """moto reads a TemplateURL from its own S3 as a path-style URL only when the URL contains "localhost"; for
    http://127.0.0.1:port/bucket/key it takes "127" for the bucket's name (moto 5.2.5,
    cloudformation/utils.py `get_stack_from_s3_url`). The loopback address is the same host either way."""
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint)
    if parts.hostname not in ("127.0.0.1", "::1"):
        return endpoint
    netloc = "localhost" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def stack_status(cfn: Any, stack_name: str) -> str | None:
    """The stack's status, or None when no stack of that name exists."""
    from botocore.exceptions import ClientError

    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return stacks[0]["StackStatus"] if stacks else None


def _wait(cfn: Any, stack_name: str, wanted: set[str], timeout: float, allow_missing: bool = False) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = stack_status(cfn, stack_name)
        if status is None and allow_missing:
            return "DELETE_COMPLETE"
        if status in wanted:
            return status
        if status in _TERMINAL_FAILED or status is None:
            raise DeployError(f"stack {stack_name} ended {status}: {_failure_reasons(cfn, stack_name)}")
        if time.monotonic() > deadline:
            raise DeployError(f"stack {stack_name} still {status} after {timeout:.0f} s")
        time.sleep(0.5)


def _failure_reasons(cfn: Any, stack_name: str) -> str:
    try:
        events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
    except Exception:  # the stack may be gone; the status already says what happened
        return "no stack events available"
    reasons = [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
        for e in events
        if e.get("ResourceStatus", "").endswith("FAILED") and e.get("ResourceStatusReason")
    ]
    return "; ".join(reasons[:5]) or "no failure reason reported"


def stack_outputs(cfn: Any, stack_name: str) -> dict[str, str]:
    stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
