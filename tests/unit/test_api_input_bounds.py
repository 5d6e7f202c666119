"""Bounds on what the API accepts and on what its errors echo back: pure, no AWS, no model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mlops_core.api import FeatureSchema, error_body, parse_json_body, parse_predict_request, validate_records
from mlops_core.api.errors import MAX_MESSAGE
from mlops_core.api.features import MAX_MAGNITUDE
from mlops_core.exceptions import InvalidRequestError, NotFoundError
from mlops_core.quoting import MAX_ECHO, clip, echo

SCHEMA = FeatureSchema.of(["length", "count"], ["double", "long"])
HUGE = "n" * 10_000_000


def refusal(record: dict) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        validate_records([record], SCHEMA, ["features"])
    return info.value


# numbers
def test_the_magnitude_bound_is_what_float32_holds() -> None:
    assert np.isfinite(np.float32(MAX_MAGNITUDE)) and np.isfinite(np.float32(-MAX_MAGNITUDE))
    assert np.float32(MAX_MAGNITUDE) == np.finfo(np.float32).max


@pytest.mark.parametrize("value", [MAX_MAGNITUDE, -MAX_MAGNITUDE, 3.4e38, 1e-300, 0.0, -5])
def test_numbers_float32_can_hold_are_accepted(value) -> None:
    assert validate_records([{"length": value, "count": 1}], SCHEMA, ["features"]) == [[float(value)], [1]]


@pytest.mark.parametrize("value", [1e308, -1e308, 3.5e38, np.nextafter(MAX_MAGNITUDE, np.inf), 10**39])
def test_finite_numbers_beyond_float32_are_refused_naming_the_field(value) -> None:
    error = refusal({"length": float(value) if isinstance(value, np.floating) else value, "count": 1})
    assert error.field == "features.length"
    assert "out of range" in str(error) and "3.4028235e+38" in str(error)


# echoed input
def test_clip_keeps_short_text_and_cuts_long_text_saying_how_long_it_was() -> None:
    assert clip("x" * MAX_ECHO) == "x" * MAX_ECHO
    assert clip("x" * (MAX_ECHO + 1)) == "x" * MAX_ECHO + f"… ({MAX_ECHO + 1} characters)"
    assert clip("abcdef", 3) == "abc… (6 characters)"


def test_echo_quotes_input_and_cuts_it_outside_the_quotes() -> None:
    assert echo("colour") == "'colour'"
    assert echo("a" * 150) == repr("a" * MAX_ECHO) + "… (150 characters)"
    assert echo(12) == "'12'"


def test_a_ten_megabyte_unknown_feature_is_echoed_in_a_hundred_characters() -> None:
    error = refusal({"length": 1.0, "count": 1, HUGE: 0})
    body = error_body(error)
    assert len(json.dumps(body)) < 1000
    assert body["field"] == "features." + "n" * (MAX_ECHO - len("features.")) + f"… ({len(HUGE) + 9} characters)"
    assert body["error"].startswith("unknown feature 'nnn") and "(10000000 characters)" in body["error"]
    assert body["error"].endswith("the model takes ['length', 'count']")


def test_unknown_top_level_fields_and_content_types_are_cut_too() -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_predict_request({"features": {}, HUGE: 1}, max_batch=10)
    assert len(json.dumps(error_body(info.value))) < 1000
    with pytest.raises(InvalidRequestError) as info:
        parse_json_body("text/" + HUGE, b"{}")
    assert len(str(info.value)) < 300


def test_every_error_body_is_bounded_whatever_raised_it() -> None:
    body = error_body(NotFoundError("no report " + HUGE))
    assert len(body["error"]) < MAX_MESSAGE + 40 and body["error"].endswith(f"({len(HUGE) + 10} characters)")
    assert error_body(InvalidRequestError("bad", HUGE))["field"].endswith(f"… ({len(HUGE)} characters)")
