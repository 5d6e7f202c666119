"""The emulator's guard on moto: the supported versions and every private seam it patches or calls.

Nothing here applies the patches: this process shares moto with the tests that use moto's in-process mocks.
Starting the emulator on an unsupported moto is tested end to end in tests/integration/test_emulator_start.py.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import moto
import pytest
from mlops_local import moto_patches
from mlops_local.exceptions import UnsupportedMotoError
from mlops_local.moto_patches import SEAMS, SUPPORTED_MOTO, check_moto
from packaging.specifiers import SpecifierSet

REPO_ROOT = Path(__file__).resolve().parents[2]


def _refusal() -> str:
    with pytest.raises(UnsupportedMotoError) as raised:
        check_moto()
    message = str(raised.value)
    assert "\n" not in message, message
    return message


def test_the_installed_moto_passes_the_check() -> None:
    check_moto()


def test_the_pinned_moto_is_a_supported_one() -> None:
    pinned = re.search(r"^moto(?:\[[^\]]*\])?==(\S+)$", (REPO_ROOT / "requirements" / "lock.txt").read_text(), re.M)
    assert pinned, "requirements/lock.txt pins no moto"
    assert pinned.group(1) in SpecifierSet(SUPPORTED_MOTO)
    assert moto.__version__ == pinned.group(1)


@pytest.mark.parametrize("seam", SEAMS, ids=lambda seam: seam.path)
def test_every_seam_holds_in_the_installed_moto(seam: moto_patches.Seam) -> None:
    assert seam.problem() is None


def test_an_unsupported_version_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto, "__version__", "5.2.1")
    assert _refusal().startswith(f"moto 5.2.1 is not supported (supported: {SUPPORTED_MOTO}): ")


def test_a_version_that_is_not_a_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto, "__version__", "unknown")
    assert _refusal().startswith("moto unknown is not supported")


def _without_parameter(monkeypatch: pytest.MonkeyPatch, owner: type, method: str, parameter: str) -> None:
    """Replace a method by one with the same signature but for one parameter, as an older moto had it."""
    original = getattr(owner, method)

    def replacement(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **kwargs)

    kept = [p for p in inspect.signature(original).parameters.values() if p.name != parameter]
    replacement.__signature__ = inspect.Signature(kept)  # type: ignore[attr-defined]
    monkeypatch.setattr(owner, method, replacement)


def test_an_older_moto_is_refused_naming_the_seam_that_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.models import StepFunctionBackend

    # moto 5.2.1: CreateStack failed with "unexpected keyword argument 'sm_type'", naming no patch.
    _without_parameter(monkeypatch, StepFunctionBackend, "create_state_machine", "sm_type")
    monkeypatch.setattr(moto, "__version__", "5.2.1")
    assert _refusal() == (
        f"moto 5.2.1 is not supported (supported: {SUPPORTED_MOTO}): "
        "moto.stepfunctions.models.StepFunctionBackend.create_state_machine has no parameter 'sm_type'"
    )


def test_a_supported_version_with_a_moved_seam_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    _without_parameter(monkeypatch, LambdaSimpleBackend, "invoke", "response_headers")
    assert _refusal() == (
        f"moto {moto.__version__} is not supported (supported: {SUPPORTED_MOTO}): "
        "moto.awslambda_simple.models.LambdaSimpleBackend.invoke has no parameter 'response_headers'"
    )


def test_a_missing_seam_is_named_with_a_count_of_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda.models import LambdaFunction
    from moto.logs.models import LogsBackend

    monkeypatch.delattr(LambdaFunction, "_get_layers_data")
    monkeypatch.delattr(LogsBackend, "ensure_log_stream")
    assert _refusal().endswith(": moto.awslambda.models.LambdaFunction._get_layers_data does not exist (and 1 more)")


def test_a_missing_module_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_patches, "SEAMS", (moto_patches.Seam("moto.awslambda_gone.models.Backend.invoke"),))
    assert _refusal().endswith(": moto.awslambda_gone does not exist")


def test_a_classmethod_that_became_a_function_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models.table import Table

    monkeypatch.setattr(Table, "create_from_cloudformation_json", staticmethod(lambda *args, **kwargs: None))
    assert _refusal().endswith(
        ": moto.dynamodb.models.table.Table.create_from_cloudformation_json is no longer a classmethod"
    )


def test_a_type_map_that_is_no_longer_cached_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.cloudformation import parsing

    monkeypatch.setattr(parsing, "get_name_type_map", lambda: {})
    assert _refusal().endswith(
        ": moto.cloudformation.parsing.get_name_type_map has no cache_clear (it is no longer cached)"
    )


def test_a_context_object_without_start_time_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.parser.asl.eval.states import ExecutionData

    monkeypatch.delitem(ExecutionData.__annotations__, "StartTime")
    assert _refusal().endswith(
        ": moto.stepfunctions.parser.asl.eval.states.ExecutionData no longer declares 'StartTime'"
    )


def test_apply_refuses_before_patching_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    monkeypatch.setattr(moto_patches, "_applied", False)
    monkeypatch.setattr(moto, "__version__", "5.2.1")
    before = LambdaSimpleBackend.invoke
    with pytest.raises(UnsupportedMotoError, match=r"^moto 5\.2\.1 is not supported"):
        moto_patches.apply(executor=None)  # type: ignore[arg-type]
    assert LambdaSimpleBackend.invoke is before
    assert moto_patches._executor is None


# Where moto calls the seams, and the gaps the patches fill: when one of these fails, moto moved or fixed
# something, and the patch it concerns is to be moved or deleted.


def test_moto_invoke_reaches_the_simple_backend_when_docker_is_off() -> None:
    from moto.awslambda import responses
    from moto.awslambda.utils import get_backend
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core.config import default_user_config

    assert "self.backend.invoke(" in inspect.getsource(responses.LambdaResponse.invoke)
    saved = dict(default_user_config["lambda"])
    try:
        default_user_config["lambda"] = {"use_docker": False}
        assert isinstance(get_backend("123456789012", "us-east-1"), LambdaSimpleBackend)
    finally:
        default_user_config["lambda"] = saved


def test_moto_still_creates_cloudformation_state_machines_in_the_plain_backend() -> None:
    from moto.stepfunctions.models import StateMachine
    from moto.stepfunctions.responses import get_backend

    source = inspect.getsource(StateMachine.create_from_cloudformation_json)
    assert "stepfunctions_backends[account_id][region_name]" in source
    assert "DefinitionSubstitutions" not in source
    assert "execute_state_machine" in inspect.getsource(get_backend)


def test_moto_still_drops_cloudformation_layers_ttl_and_rest_api_bodies() -> None:
    from moto.apigateway.models import RestAPI
    from moto.awslambda.models import LambdaFunction, LayerVersion
    from moto.cloudformation.parsing import get_model_map
    from moto.dynamodb.models.table import Table

    assert '"Layers"' not in inspect.getsource(LambdaFunction.create_from_cloudformation_json)
    assert "TimeToLiveSpecification" not in inspect.getsource(Table.create_from_cloudformation_json)
    assert '"Body"' not in inspect.getsource(RestAPI.create_from_cloudformation_json)
    assert not hasattr(LayerVersion, "physical_resource_id")
    assert "AWS::S3::BucketPolicy" not in get_model_map()
