"""Request bodies: content type, JSON, and the shape of each endpoint's body. Pure: no AWS, no model."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from mlops_core.exceptions import InvalidRequestError
from mlops_core.prediction_ids import Label
from mlops_core.quoting import echo
from mlops_core.variants import PRODUCTION

JSON_MEDIA_TYPE = "application/json"
MAX_USER_ID_LENGTH = 256
MAX_TEXT_LENGTH = 1000
MAX_LABEL_LENGTH = 256
_FEEDBACK_FIELDS = ("prediction_id", "label")
_VERSION = re.compile(r"[0-9]{1,12}")  # a registry version number, as prediction ids carry it


@dataclass(frozen=True)
class PredictRequest:
    """One record (`batch` False) or a batch of records, already checked for shape but not for features.

    `user_id` routes the whole request; `user_ids` (a batch only) routes each record by its own key.
    """

    records: list[dict[str, Any]]
    batch: bool
    user_id: str | None = None
    user_ids: list[str] | None = None

    def field_prefix(self, index: int) -> str:
        return f"instances[{index}]" if self.batch else "features"


def _non_finite(literal: str) -> float:
    # JSON has no NaN or Infinity, but Python's parser accepts the literals; keep them as floats so the
    # field-level checks reject them with the field's name rather than failing here without one.
    return float(literal)


def parse_json_body(content_type: str | None, raw_body: bytes | str | None, *, required: bool = True) -> Any:
    """The decoded JSON body; None when optional and absent. Raises InvalidRequestError naming the culprit."""
    if not raw_body:
        if required:
            raise InvalidRequestError("request body is empty: send a JSON object", "body")
        return None
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        raise InvalidRequestError(
            f"unsupported content type {echo(content_type or '(none)')}: send {JSON_MEDIA_TYPE}", "Content-Type"
        )
    try:
        text = raw_body.decode("utf-8") if isinstance(raw_body, bytes) else raw_body
        return json.loads(text, parse_constant=_non_finite)
    except UnicodeDecodeError:
        raise InvalidRequestError("request body is not UTF-8 text", "body") from None
    except ValueError as error:
        raise InvalidRequestError(f"malformed JSON: {error}", "body") from None
    except RecursionError:
        raise InvalidRequestError("malformed JSON: nested too deeply", "body") from None


def require_object(body: Any, allowed: frozenset[str] | None = None) -> dict[str, Any]:
    """The body as a JSON object, refusing other JSON values and, when `allowed` is given, unknown keys."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidRequestError(f"request body must be a JSON object, not {_json_type(body)}", "body")
    if allowed is not None:
        for key in body:
            if key not in allowed:
                raise InvalidRequestError(f"unknown field {echo(key)}", key)
    return body


def parse_predict_request(body: Any, max_batch: int, header_user_id: str | None = None) -> PredictRequest:
    """`{"features": {...}}` or `{"instances": [{...}, ...]}`, with an optional `user_id` for sticky routing, or
    for a batch `user_ids`, one per instance."""
    obj = require_object(body, frozenset({"features", "instances", "user_id", "user_ids"}))
    # The header is checked even when the body's user_id wins: the API's contract bounds it either way.
    header = _user_id_header(header_user_id)
    user_id = _user_id(obj["user_id"]) if "user_id" in obj else header
    if ("features" in obj) == ("instances" in obj):
        raise InvalidRequestError("send exactly one of 'features' (one record) or 'instances' (a batch)", "features")
    if "features" in obj:
        features = obj["features"]
        if not isinstance(features, dict):
            raise InvalidRequestError(f"'features' must be an object, not {_json_type(features)}", "features")
        if "user_ids" in obj:
            raise InvalidRequestError("'user_ids' goes with 'instances': one record takes 'user_id'", "user_ids")
        return PredictRequest([features], batch=False, user_id=user_id)
    instances = _batch(obj, "instances", max_batch, "records")
    for index, record in enumerate(instances):
        if not isinstance(record, dict):
            raise InvalidRequestError(
                f"each instance must be an object, not {_json_type(record)}", f"instances[{index}]"
            )
    if "user_ids" not in obj:
        return PredictRequest(instances, batch=True, user_id=user_id)
    if "user_id" in obj:
        raise InvalidRequestError(
            "send 'user_id' (one key for the batch) or 'user_ids' (one each), not both", "user_ids"
        )
    user_ids = obj["user_ids"]
    if not isinstance(user_ids, list):
        raise InvalidRequestError(f"'user_ids' must be an array, not {_json_type(user_ids)}", "user_ids")
    if len(user_ids) != len(instances):
        raise InvalidRequestError(
            f"'user_ids' has {len(user_ids)} entries for {len(instances)} instances: send one per instance",
            "user_ids",
        )
    return PredictRequest(
        instances,
        batch=True,
        user_ids=[_user_id(value, f"user_ids[{index}]") for index, value in enumerate(user_ids)],
    )


def parse_traffic_request(body: Any) -> Any:
    """The raw `production` share; its range and type are checked by the routing rules."""
    obj = require_object(body, frozenset({PRODUCTION}))
    if PRODUCTION not in obj:
        raise InvalidRequestError(f"missing '{PRODUCTION}': the share of traffic for Production, in [0, 1]", PRODUCTION)
    return obj[PRODUCTION]


@dataclass(frozen=True)
class FeedbackRequest:
    """Labels for earlier predictions: one (`batch` False) or a batch, as (prediction_id, label) pairs.

    The pairs of a batch are checked for shape only: each id's signature and each label's value are judged per
    item, so one bad item does not refuse the others.
    """

    items: list[tuple[str, Label]]
    batch: bool


def parse_feedback_request(body: Any, max_batch: int) -> FeedbackRequest:
    """`{"prediction_id": "...", "label": ...}`, or `{"feedback": [{"prediction_id": "...", "label": ...}, ...]}`."""
    obj = require_object(body, frozenset({"prediction_id", "label", "feedback"}))
    if "feedback" not in obj:
        return FeedbackRequest([_feedback_item(obj)], batch=False)
    if "prediction_id" in obj or "label" in obj:
        raise InvalidRequestError(
            "send one label ('prediction_id' and 'label') or a batch ('feedback'), not both", "feedback"
        )
    items = []
    for index, item in enumerate(_batch(obj, "feedback", max_batch, "labels")):
        field = f"feedback[{index}]"
        if not isinstance(item, dict):
            raise InvalidRequestError(f"each feedback item must be an object, not {_json_type(item)}", field)
        for key in item:
            if key not in _FEEDBACK_FIELDS:
                raise InvalidRequestError(
                    f"unknown field {echo(key)}: an item has 'prediction_id' and 'label'", f"{field}.{key}"
                )
        for key in _FEEDBACK_FIELDS:
            if key not in item:
                raise InvalidRequestError(f"missing '{key}'", f"{field}.{key}")
        prediction_id, label = item["prediction_id"], item["label"]
        if not isinstance(prediction_id, str):
            raise InvalidRequestError(
                f"'prediction_id' must be a string, not {_json_type(prediction_id)}", f"{field}.prediction_id"
            )
        if not isinstance(label, str | int | float):
            raise InvalidRequestError(
                f"'label' must be a string, a number or a boolean, not {_json_type(label)}", f"{field}.label"
            )
        items.append((prediction_id, label))
    return FeedbackRequest(items, batch=True)


def _feedback_item(obj: dict[str, Any]) -> tuple[str, Label]:
    """The one label of the single form: the id a prediction returned and the true label."""
    prediction_id = obj.get("prediction_id")
    if not isinstance(prediction_id, str) or not prediction_id:
        raise InvalidRequestError("'prediction_id' must be the non-empty string a prediction returned", "prediction_id")
    if "label" not in obj:
        raise InvalidRequestError("missing 'label': the true class of the predicted record", "label")
    label = obj["label"]
    # Labels keep their JSON type: the model may predict strings, integers or booleans.
    valid = (isinstance(label, str) and 0 < len(label) <= MAX_LABEL_LENGTH) or (
        isinstance(label, int | float) and math.isfinite(label)
    )
    if not valid:
        raise InvalidRequestError(
            f"'label' must be a class label: a string of 1 to {MAX_LABEL_LENGTH} characters, a finite number "
            "or a boolean",
            "label",
        )
    return prediction_id, label


def _batch(obj: dict[str, Any], key: str, max_batch: int, what: str) -> list[Any]:
    """The non-empty array under `key`, of at most `max_batch` items."""
    items = obj[key]
    if not isinstance(items, list):
        raise InvalidRequestError(f"'{key}' must be an array, not {_json_type(items)}", key)
    if not items:
        raise InvalidRequestError(f"'{key}' is empty: send at least one item", key)
    if len(items) > max_batch:
        raise InvalidRequestError(f"batch of {len(items)} {what} is over the limit of {max_batch}", key)
    return items


def parse_experiment_query(params: dict[str, str] | None) -> tuple[str, str] | None:
    """(production_version, staging_version) from GET /stats/ab's query, or None for every experiment. Both or
    neither, each a registry version number."""
    params = params or {}
    names = ("production_version", "staging_version")
    for name in params:
        if name not in names:
            raise InvalidRequestError(f"unknown query parameter {echo(name)}: /stats/ab takes {list(names)}", name)
    given = [name for name in names if name in params]
    if not given:
        return None
    if len(given) == 1:
        (missing,) = set(names) - set(given)
        raise InvalidRequestError(f"'{given[0]}' selects an experiment together with '{missing}': send both", missing)
    for name in names:
        if not _VERSION.fullmatch(params[name]):
            raise InvalidRequestError(
                f"'{name}' must be a model version number, such as 3, not {echo(params[name])}", name
            )
    return params["production_version"], params["staging_version"]


@dataclass(frozen=True)
class ManagementRequest:
    actor: str
    reason: str


def parse_management_request(body: Any, default_reason: str) -> ManagementRequest:
    """Optional `{"reason": "...", "actor": "..."}` for promote, rollback and reset; the body may be absent."""
    obj = require_object(body, frozenset({"reason", "actor"}))
    return ManagementRequest(
        actor=_text(obj, "actor", "api"),
        reason=_text(obj, "reason", default_reason),
    )


def _text(obj: dict[str, Any], key: str, default: str) -> str:
    value = obj.get(key, default)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT_LENGTH:
        raise InvalidRequestError(f"'{key}' must be a non-empty string of at most {MAX_TEXT_LENGTH} characters", key)
    return value.strip()


def _user_id(value: Any, field: str = "user_id") -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidRequestError(f"'{field}' must be a string or an integer", field)
    text = str(value)
    if not text or len(text) > MAX_USER_ID_LENGTH:
        raise InvalidRequestError(f"'{field}' must have 1 to {MAX_USER_ID_LENGTH} characters", field)
    return text


def _user_id_header(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > MAX_USER_ID_LENGTH:
        raise InvalidRequestError(f"x-user-id must have at most {MAX_USER_ID_LENGTH} characters", "x-user-id")
    return value.strip()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number" if not isinstance(value, float) or math.isfinite(value) else "a non-finite number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
