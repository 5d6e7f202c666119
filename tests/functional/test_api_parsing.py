"""The API's pure request handling: body parsing, signature validation, credentials and the error mapping."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np
import pytest
from mlops_core.api import (
    AuthenticationError,
    FeatureSchema,
    FeedbackRequest,
    ManagementDisabledError,
    PermissionDeniedError,
    check_management_credential,
    http_status,
    parse_feedback_request,
    parse_json_body,
    parse_management_request,
    parse_predict_request,
    parse_traffic_request,
    to_frame,
    to_http,
    validate_records,
)
from mlops_core.exceptions import (
    ConfigurationError,
    InvalidRequestError,
    MlopsError,
    NoModelError,
    NotFoundError,
)

SCHEMA = FeatureSchema.of(
    ["length", "count", "island", "flag"], ["double", "long", "string", "boolean"], optional=["island"]
)


@contextlib.contextmanager
def invalid(field: str, match: str | None = None) -> Iterator[pytest.ExceptionInfo[InvalidRequestError]]:
    """pytest.raises for an InvalidRequestError that names `field`."""
    with pytest.raises(InvalidRequestError, match=match) as info:
        yield info
    assert info.value.field == field


# body
@pytest.mark.parametrize(
    ("content_type", "body", "field", "match"),
    [
        ("application/json", b"", "body", "empty"),
        ("application/json", None, "body", "empty"),
        ("text/plain", b'{"a": 1}', "Content-Type", "unsupported content type"),
        (None, b'{"a": 1}', "Content-Type", "unsupported content type"),
        ("application/json", b'{"a": ', "body", "malformed JSON"),
        ("application/json", b"\xff\xfe", "body", "not UTF-8"),
        ("application/json", b"[" * 100_000, "body", "malformed JSON"),
    ],
)
def test_bad_bodies_are_refused_naming_the_culprit(content_type, body, field, match) -> None:
    with invalid(field, match):
        parse_json_body(content_type, body)


def test_json_bodies_parse_with_parameters_and_nan_literals_become_floats() -> None:
    assert parse_json_body("application/json; charset=utf-8", b'{"a": [1, "x"]}') == {"a": [1, "x"]}
    assert math.isnan(parse_json_body("application/json", "NaN"))
    assert parse_json_body("application/json", b"-Infinity") == -math.inf
    assert parse_json_body(None, b"", required=False) is None


# predict body shape
def test_single_and_batch_requests() -> None:
    single = parse_predict_request({"features": {"a": 1}, "user_id": 7}, max_batch=3)
    assert (single.records, single.batch, single.user_id) == ([{"a": 1}], False, "7")
    assert single.field_prefix(0) == "features"
    batch = parse_predict_request({"instances": [{"a": 1}, {"a": 2}]}, max_batch=2, header_user_id=" u1 ")
    assert (len(batch.records), batch.batch, batch.user_id) == (2, True, "u1")
    assert batch.field_prefix(1) == "instances[1]"
    body_wins = parse_predict_request({"features": {}, "user_id": "body"}, 1, header_user_id="header")
    assert body_wins.user_id == "body"
    # an over-long header is refused even when the body's user_id would win (the API's schema bounds it)
    with pytest.raises(InvalidRequestError, match="x-user-id must have at most 256"):
        parse_predict_request({"features": {}, "user_id": "body"}, 1, header_user_id="h" * 257)


@pytest.mark.parametrize(
    ("body", "field", "match"),
    [
        ([1, 2], "body", "must be a JSON object, not an array"),
        ("text", "body", "not a string"),
        (None, "features", "exactly one of"),
        ({}, "features", "exactly one of"),
        ({"features": {}, "instances": []}, "features", "exactly one of"),
        ({"features": [1]}, "features", "must be an object"),
        ({"instances": {}}, "instances", "must be an array"),
        ({"instances": []}, "instances", "empty"),
        ({"instances": [{}, {}, {}]}, "instances", "over the limit of 2"),
        ({"instances": [{}, 5]}, "instances[1]", "must be an object"),
        ({"features": {}, "extra": 1}, "extra", "unknown field"),
        ({"features": {}, "user_id": True}, "user_id", "string or an integer"),
        ({"features": {}, "user_id": ""}, "user_id", "1 to 256"),
        ({"features": {}, "user_id": "u" * 257}, "user_id", "1 to 256"),
    ],
)
def test_bad_predict_bodies(body, field, match) -> None:
    with invalid(field, match):
        parse_predict_request(body, max_batch=2)


def test_a_batch_may_carry_one_user_id_per_instance() -> None:
    batch = parse_predict_request({"instances": [{"a": 1}, {"a": 2}], "user_ids": ["u-1", 7]}, 2, "header")
    assert (batch.user_ids, batch.user_id) == (["u-1", "7"], None)
    assert parse_predict_request({"instances": [{"a": 1}]}, 2).user_ids is None


@pytest.mark.parametrize(
    ("body", "field", "match"),
    [
        ({"instances": [{}, {}], "user_ids": ["a"]}, "user_ids", "1 entries for 2 instances"),
        ({"instances": [{}], "user_ids": ["a", "b"]}, "user_ids", "2 entries for 1 instances"),
        ({"instances": [{}], "user_ids": "a"}, "user_ids", "must be an array, not a string"),
        ({"instances": [{}], "user_ids": None}, "user_ids", "must be an array, not null"),
        ({"instances": [{}, {}], "user_ids": ["a", True]}, "user_ids[1]", "string or an integer"),
        ({"instances": [{}, {}], "user_ids": ["a", None]}, "user_ids[1]", "string or an integer"),
        ({"instances": [{}, {}], "user_ids": ["", "b"]}, "user_ids[0]", "1 to 256"),
        ({"instances": [{}, {}], "user_ids": ["a", "u" * 257]}, "user_ids[1]", "1 to 256"),
        ({"instances": [{}], "user_ids": ["a"], "user_id": "a"}, "user_ids", "not both"),
        ({"features": {}, "user_ids": ["a"]}, "user_ids", "goes with 'instances'"),
        ({"instances": [{}, {}, {}], "user_ids": ["a", "b", "c"]}, "instances", "over the limit of 2"),
    ],
)
def test_bad_user_ids_name_the_field(body, field, match) -> None:
    with invalid(field, match):
        parse_predict_request(body, max_batch=2)


# feedback body shape
def test_a_feedback_batch_keeps_its_items_in_order_whatever_their_values() -> None:
    body = {
        "feedback": [
            {"prediction_id": "a", "label": "x"},
            {"label": 2, "prediction_id": ""},
            {"prediction_id": "c", "label": True},
        ]
    }
    assert parse_feedback_request(body, 3) == FeedbackRequest([("a", "x"), ("", 2), ("c", True)], batch=True)
    # The values are judged per item (a bad one is rejected, not the batch): only their JSON types are checked here.
    odd = parse_feedback_request(
        {"feedback": [{"prediction_id": "a", "label": ""}, {"prediction_id": "b", "label": math.nan}]}, 3
    )
    assert odd.items[0] == ("a", "")


@pytest.mark.parametrize(
    ("body", "field", "match"),
    [
        ({"feedback": {}}, "feedback", "must be an array"),
        ({"feedback": []}, "feedback", "empty"),
        ({"feedback": [{"prediction_id": "a", "label": "x"}] * 4}, "feedback", "4 labels is over the limit of 3"),
        ({"feedback": [{"prediction_id": "a", "label": "x"}, "a"]}, "feedback[1]", "must be an object"),
        ({"feedback": [{"prediction_id": "a"}]}, "feedback[0].label", "missing 'label'"),
        ({"feedback": [{"label": "x"}]}, "feedback[0].prediction_id", "missing 'prediction_id'"),
        ({"feedback": [{"prediction_id": "a", "label": "x", "note": 1}]}, "feedback[0].note", "unknown field"),
        ({"feedback": [{"prediction_id": 5, "label": "x"}]}, "feedback[0].prediction_id", "must be a string"),
        ({"feedback": [{"prediction_id": "a", "label": None}]}, "feedback[0].label", "not null"),
        (
            {"feedback": [{"prediction_id": "a", "label": "x"}, {"prediction_id": "b", "label": ["x"]}]},
            "feedback[1].label",
            "not an array",
        ),
        ({"feedback": [{"prediction_id": "a", "label": "x"}], "label": "x"}, "feedback", "not both"),
        ({"feedback": [{"prediction_id": "a", "label": "x"}], "extra": 1}, "extra", "unknown field"),
    ],
)
def test_bad_feedback_batches_name_the_field(body, field, match) -> None:
    with invalid(field, match):
        parse_feedback_request(body, max_batch=3)


# features against the signature
def good_record(**changes):
    return {"length": 1.5, "count": 3, "island": "Biscoe", "flag": True, **changes}


def test_valid_records_become_typed_columns() -> None:
    records = [good_record(), good_record(length=2, count=4.0, island=None, flag=False)]
    frame = to_frame(validate_records(records, SCHEMA, ["instances[0]", "instances[1]"]), SCHEMA)
    assert list(frame.columns) == ["length", "count", "island", "flag"]
    assert frame["length"].dtype == np.float64 and frame["count"].dtype == np.int64
    assert frame["count"].tolist() == [3, 4]
    assert frame["island"].iloc[0] == "Biscoe" and math.isnan(frame["island"].iloc[1])
    assert frame["flag"].tolist() == [True, False]


@pytest.mark.parametrize(
    ("record", "field", "match"),
    [
        ({"count": 3, "island": "x", "flag": True}, "features.length", "missing feature"),
        (good_record(extra=1), "features.extra", "unknown feature"),
        (good_record(length="1.5"), "features.length", "must be a number"),
        (good_record(length=True), "features.length", "must be a number"),
        (good_record(length=[1]), "features.length", "must be a number"),
        (good_record(length=math.nan), "features.length", "finite"),
        (good_record(length=math.inf), "features.length", "finite"),
        (good_record(length=10**400), "features.length", "out of range"),
        (good_record(length=None), "features.length", "required"),
        (good_record(count=1.5), "features.count", "whole number"),
        (good_record(count=2**63), "features.count", "out of range"),
        (good_record(island=3), "features.island", "must be a string"),
        (good_record(flag=1), "features.flag", "true or false"),
    ],
)
def test_bad_features_name_the_field(record, field, match) -> None:
    with invalid(field, match):
        validate_records([record], SCHEMA, ["features"])


def test_the_first_bad_record_of_a_batch_is_named() -> None:
    with invalid("instances[2].length", "finite"):
        validate_records(
            [good_record(), good_record(), good_record(length=-math.inf)],
            SCHEMA,
            [
                "instances[0]",
                "instances[1]",
                "instances[2]",
            ],
        )


def test_a_signature_the_api_cannot_check_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="not a scalar"):
        FeatureSchema.of(["image"], ["binary"])
    with pytest.raises(ConfigurationError, match="differ in length"):
        FeatureSchema(("a", "b"), ("double",))


# other bodies
def test_traffic_feedback_and_management_bodies() -> None:
    assert parse_traffic_request({"production": 0.7}) == 0.7
    with invalid("production", "missing"):
        parse_traffic_request({})
    with invalid("share", "unknown field"):
        parse_traffic_request({"share": 0.5})
    assert parse_feedback_request({"prediction_id": "abc", "label": "setosa"}, 5) == FeedbackRequest(
        [("abc", "setosa")], batch=False
    )
    assert parse_feedback_request({"prediction_id": "abc", "label": 2}, 5).items == [("abc", 2)]
    for body, field in [
        ({"label": "x"}, "prediction_id"),
        ({"prediction_id": 5, "label": "x"}, "prediction_id"),
        ({"prediction_id": "abc"}, "label"),
        ({"prediction_id": "abc", "label": None}, "label"),
        ({"prediction_id": "abc", "label": ""}, "label"),
        ({"prediction_id": "abc", "label": math.nan}, "label"),
        ({"prediction_id": "abc", "label": ["x"]}, "label"),
    ]:
        with invalid(field):
            parse_feedback_request(body, 5)
    default = parse_management_request(None, "manual")
    assert (default.actor, default.reason) == ("api", "manual")
    given = parse_management_request({"reason": " hotfix ", "actor": "ops"}, "manual")
    assert (given.actor, given.reason) == ("ops", "hotfix")
    with invalid("reason"):
        parse_management_request({"reason": " "}, "manual")
    with invalid("version", "unknown field"):
        parse_management_request({"version": "3"}, "manual")


# credentials
@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer s3cret"}, {"authorization": "bearer  s3cret "}, {"X-Api-Key": "s3cret"}],
)
def test_the_configured_key_is_accepted_in_either_header(headers) -> None:
    check_management_credential(headers, "s3cret")


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, AuthenticationError),
        ({"Authorization": "Basic czNjcmV0"}, AuthenticationError),
        ({"Authorization": "Bearer "}, AuthenticationError),
        ({"x-api-key": ""}, AuthenticationError),
        ({"Authorization": "Bearer wrong"}, PermissionDeniedError),
        ({"x-api-key": "s3cre"}, PermissionDeniedError),
        ({"x-api-key": "s3cret-and-more"}, PermissionDeniedError),
    ],
)
def test_missing_or_wrong_credentials_are_refused(headers, error) -> None:
    with pytest.raises(error):
        check_management_credential(headers, "s3cret")


@pytest.mark.parametrize("configured", [None, ""])
def test_management_is_closed_when_no_key_is_configured(configured) -> None:
    with pytest.raises(ManagementDisabledError, match="management API disabled: set API_KEY"):
        check_management_credential({"x-api-key": "anything"}, configured)


# error mapping
class _Conflict(MlopsError):
    pass


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidRequestError("bad", "x"), 400),
        (AuthenticationError("who"), 401),
        (PermissionDeniedError("no"), 403),
        (NotFoundError("gone"), 404),
        (_Conflict("twice"), 409),
        (NoModelError("none"), 503),
        (ManagementDisabledError("off"), 503),
        (ConfigurationError("unset"), 503),
    ],
)
def test_error_statuses(error, status) -> None:
    assert http_status(error) == status


def test_error_bodies_name_the_field_and_401_asks_for_a_bearer_token() -> None:
    assert to_http(InvalidRequestError("must be a number", "features.x")) == (
        400,
        {"error": "must be a number", "field": "features.x"},
        {},
    )
    status, body, headers = to_http(AuthenticationError("missing credential"))
    assert (status, body) == (401, {"error": "missing credential"})
    assert headers["WWW-Authenticate"].startswith("Bearer")
